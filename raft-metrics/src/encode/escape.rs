//! Escaping for the text formats. Runs at registration and series creation only: a scrape copies
//! strings that were escaped once.

/// Appends `value` escaped as a label value (`\\`, `\"`, `\n`), valid in both text formats.
pub(crate) fn label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `help` escaped for a `# HELP` line: `\\` and `\n`, plus `\"` in OpenMetrics.
pub(crate) fn help(out: &mut String, help: &str, quotes: bool) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Reverses label-value escaping (`\\`, `\"`, `\n`); `None` for an invalid escape.
pub fn unescape_label_value(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                _ => return None,
            },
            '"' | '\n' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_round_trip() {
        for value in ["", "plain", "quote\"d", "back\\slash", "new\nline", "\\n", "ünïcødé ✓", "\"\\\n\"", "\r\t\0"]
        {
            let mut escaped = String::new();
            label_value(&mut escaped, value);
            assert!(!escaped.contains('\n'));
            assert_eq!(unescape_label_value(&escaped).as_deref(), Some(value));
        }
        assert_eq!(unescape_label_value("bad\\x"), None);
        assert_eq!(unescape_label_value("bad\""), None);
    }

    #[test]
    fn help_escapes_per_format() {
        let mut prom = String::new();
        help(&mut prom, "a \"b\" \\ c\nd", false);
        assert_eq!(prom, "a \"b\" \\\\ c\\nd");
        let mut om = String::new();
        help(&mut om, "a \"b\"", true);
        assert_eq!(om, "a \\\"b\\\"");
    }
}
