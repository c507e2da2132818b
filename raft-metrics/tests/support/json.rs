//! A std-only JSON string scanner, enough for the dashboard file: shared by `dashboards.rs` and
//! `raft-metrics-raftrs/tests/prometheus_e2e.rs`.

/// Reads the JSON string starting at the quote at `start`; returns it unescaped and the index
/// after its closing quote.
pub(crate) fn json_string(text: &str, start: usize) -> (String, usize) {
    let bytes = text.as_bytes();
    assert_eq!(bytes[start], b'"');
    let mut out = String::new();
    let mut units: Vec<u16> = Vec::new(); // pending \u escapes (surrogate pairs)
    let mut i = start + 1;
    loop {
        let c = text[i..].chars().next().unwrap_or_else(|| panic!("unterminated JSON string at byte {start}"));
        if c != '\\' && !units.is_empty() {
            out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
        }
        match c {
            '"' => return (out, i + 1),
            '\\' => {
                let escape = bytes[i + 1];
                if escape == b'u' {
                    let hex = &text[i + 2..i + 6];
                    units.push(u16::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad \\u{hex} escape")));
                    i += 6;
                    continue;
                }
                if !units.is_empty() {
                    out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
                }
                out.push(match escape {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    other => panic!("bad JSON escape \\{}", other as char),
                });
                i += 2;
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
}

/// The string values of every member named one of `keys`, at any depth.
pub(crate) fn json_string_members(text: &str, keys: &[&str]) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut key: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let (s, next) = json_string(text, i);
                let after = next + text[next..].len() - text[next..].trim_start().len();
                if bytes.get(after) == Some(&b':') {
                    key = Some(s);
                    i = after + 1;
                    continue;
                }
                if let Some(k) = key.take() {
                    if keys.contains(&k.as_str()) {
                        found.push((k, s));
                    }
                }
                i = next;
            }
            // Anything but a string after a key (object, array, number, literal) ends the member.
            b'{' | b'}' | b'[' | b']' | b',' => {
                key = None;
                i += 1;
            }
            _ => i += 1,
        }
    }
    found
}
