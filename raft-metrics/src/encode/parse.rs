//! A strict parser for the text formats this crate writes, for tests that assert on scrapes.
//!
//! Strict means: a line that a conforming Prometheus or OpenMetrics parser could read differently
//! is an error. Label values must use only the `\\`, `\"`, `\n` escapes; lines must follow the
//! `# TYPE` of their family and carry a suffix that type allows; a series may appear once; a
//! histogram's buckets must be cumulative and its `+Inf` bucket must equal `_count`; OpenMetrics
//! text must end with `# EOF`.

use std::collections::{HashMap, HashSet};

use super::escape::unescape_label_value;
use super::Format;
use crate::name::{is_valid_label_name, is_valid_metric_name};

/// One sample line of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The sample name, with its suffix (`x_total`, `x_bucket`).
    pub name: String,
    /// Label pairs in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Line {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One metric family: its metadata and its sample lines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFamily {
    /// The name on the `# TYPE` line.
    pub name: String,
    /// `counter`, `gauge`, `histogram`, …
    pub kind: String,
    /// The unescaped HELP text.
    pub help: Option<String>,
    /// The `# UNIT` (OpenMetrics only).
    pub unit: Option<String>,
    /// Samples in order.
    pub lines: Vec<Line>,
}

/// A parsed scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrape {
    /// Families in order.
    pub families: Vec<ParsedFamily>,
}

impl Scrape {
    /// Every sample of every family.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.families.iter().flat_map(|f| f.lines.iter())
    }

    /// The family named `name` (the `# TYPE` name).
    pub fn family(&self, name: &str) -> Option<&ParsedFamily> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of the sample `name` whose labels include every pair in `labels`; `None` when
    /// no sample or more than one matches.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.lines().filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)));
        let first = found.next()?;
        found.next().is_none().then_some(first.value)
    }

    /// The sum of the lines `name` whose labels include every pair in `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.lines()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .map(|s| s.value)
            .sum()
    }
}

/// Where and why a scrape failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses `text` strictly as `format`.
///
/// # Errors
///
/// The first line that breaks the format, with its number. `Format::Protobuf` (feature
/// `protobuf`) is not a text format and is refused.
pub fn parse(text: &str, format: Format) -> Result<Scrape, ParseError> {
    #[cfg(feature = "protobuf")]
    if format == Format::Protobuf {
        return Err(ParseError { line: 0, message: "protobuf is not a text format".into() });
    }
    let mut parser = Parser { format, scrape: Scrape::default(), seen: HashSet::new(), names: HashSet::new() };
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(ParseError { line: text.lines().count(), message: "the last line has no newline".into() });
    }
    let mut eof = false;
    for (number, line) in text.split_terminator('\n').enumerate() {
        let fail = |message: String| ParseError { line: number + 1, message };
        if eof {
            return Err(fail("text after # EOF".into()));
        }
        if line == "# EOF" && format == Format::OpenMetrics {
            eof = true;
        } else if let Some(comment) = line.strip_prefix('#') {
            parser.comment(comment).map_err(fail)?;
        } else {
            parser.sample(line).map_err(fail)?;
        }
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ParseError { line: text.lines().count(), message: "OpenMetrics text must end with # EOF".into() });
    }
    for family in &parser.scrape.families {
        check_family(family).map_err(|message| ParseError { line: 0, message })?;
    }
    Ok(parser.scrape)
}

struct Parser {
    format: Format,
    scrape: Scrape,
    /// `name{sorted labels}` of every sample so far.
    seen: HashSet<String>,
    /// Family names so far.
    names: HashSet<String>,
}

impl Parser {
    fn comment(&mut self, comment: &str) -> Result<(), String> {
        let Some(rest) = comment.strip_prefix(' ') else {
            return if self.format == Format::Prometheus { Ok(()) } else { Err("malformed comment".into()) };
        };
        let (keyword, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
        match keyword {
            "TYPE" => {
                if !is_valid_metric_name(name) {
                    return Err(format!("invalid family name `{name}`"));
                }
                if ![
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "untyped",
                    "unknown",
                    "info",
                    "stateset",
                    "gaugehistogram",
                ]
                .contains(&value)
                {
                    return Err(format!("unknown type `{value}`"));
                }
                let family = self.family_for(name)?;
                if !family.kind.is_empty() {
                    return Err(format!("second TYPE for `{name}`"));
                }
                family.kind = value.to_owned();
            }
            "HELP" => {
                let help = unescape_help(value, self.format).ok_or("invalid escape in HELP")?;
                let family = self.family_for(name)?;
                if family.help.replace(help).is_some() {
                    return Err(format!("second HELP for `{name}`"));
                }
            }
            "UNIT" if self.format == Format::OpenMetrics => {
                if !name.ends_with(&format!("_{value}")) {
                    return Err(format!("family `{name}` does not end with its unit `{value}`"));
                }
                let family = self.family_for(name)?;
                family.unit = Some(value.to_owned());
            }
            _ if self.format == Format::Prometheus => {}
            _ => return Err(format!("unknown comment `{keyword}`")),
        }
        Ok(())
    }

    /// The current family if it is `name`, else a new one (a name may not come back later).
    fn family_for(&mut self, name: &str) -> Result<&mut ParsedFamily, String> {
        let is_current = self.scrape.families.last().is_some_and(|f| f.name == name && f.lines.is_empty());
        if !is_current {
            if !self.names.insert(name.to_owned()) {
                return Err(format!("family `{name}` appears in two places"));
            }
            self.scrape.families.push(ParsedFamily { name: name.to_owned(), ..ParsedFamily::default() });
        }
        Ok(self.scrape.families.last_mut().expect("pushed above"))
    }

    fn sample(&mut self, line: &str) -> Result<(), String> {
        let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
        let name = &line[..name_end];
        if !is_valid_metric_name(name) {
            return Err(format!("invalid metric name `{name}`"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(inner)?;
            labels = parsed;
            rest = after;
        }
        let value = rest.strip_prefix(' ').ok_or("expected one space before the value")?;
        if value.contains(' ') {
            return Err("timestamps and exemplars are not expected".into());
        }
        let value = parse_value(value)?;
        let family = self.scrape.families.last_mut().ok_or("a sample before any # TYPE")?;
        if !sample_belongs(&family.name, &family.kind, name, self.format) {
            return Err(format!("sample `{name}` does not belong to family `{}` ({})", family.name, family.kind));
        }
        let mut key: Vec<_> = labels.iter().map(|(k, v): &(String, String)| format!("{k}={v:?}")).collect();
        key.sort();
        if !self.seen.insert(format!("{name}{{{}}}", key.join(","))) {
            return Err(format!("duplicate series `{name}`"));
        }
        family.lines.push(Line { name: name.to_owned(), labels, value });
        Ok(())
    }
}

type Labels = Vec<(String, String)>;

fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(rest) = text.strip_prefix('}') {
        return Ok((labels, rest));
    }
    loop {
        let eq = text.find('=').ok_or("a label without =")?;
        let name = &text[..eq];
        if !is_valid_label_name(name) {
            return Err(format!("invalid label name `{name}`"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label `{name}` appears twice"));
        }
        text = text[eq + 1..].strip_prefix('"').ok_or("a label value must be quoted")?;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("an unterminated label value")?;
        let value = unescape_label_value(&text[..end]).ok_or("an invalid escape in a label value")?;
        labels.push((name.to_owned(), value));
        text = &text[end + 1..];
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        text = text.strip_prefix(',').ok_or("expected , or } after a label")?;
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) && !text.is_empty() => {
            text.parse().map_err(|_| format!("invalid number `{text}`"))
        }
        _ => Err(format!("invalid number `{text}`")),
    }
}

fn unescape_help(text: &str, format: Format) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                '"' if format == Format::OpenMetrics => out.push('"'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn sample_belongs(family: &str, kind: &str, sample: &str, format: Format) -> bool {
    let suffix = match sample.strip_prefix(family) {
        Some(suffix) => suffix,
        None => return false,
    };
    match (kind, format) {
        ("counter", Format::OpenMetrics) => suffix == "_total" || suffix == "_created",
        ("counter", Format::Prometheus) => suffix.is_empty() && family.ends_with("_total"),
        ("histogram", _) => ["_bucket", "_sum", "_count", "_created"].contains(&suffix),
        _ => suffix.is_empty(),
    }
}

/// Histogram law: per label set, buckets are cumulative and `+Inf` equals `_count`.
fn check_family(family: &ParsedFamily) -> Result<(), String> {
    if family.kind != "histogram" {
        return Ok(());
    }
    let series_key = |s: &Line| {
        let mut key: Vec<_> = s.labels.iter().filter(|(k, _)| k != "le").map(|(k, v)| format!("{k}={v:?}")).collect();
        key.sort();
        key.join(",")
    };
    let mut buckets: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    let mut counts: HashMap<String, f64> = HashMap::new();
    for sample in &family.lines {
        if sample.name.ends_with("_bucket") {
            let le = sample.label("le").ok_or_else(|| format!("{}: a bucket without le", family.name))?;
            buckets.entry(series_key(sample)).or_default().push((parse_value(le)?, sample.value));
        } else if sample.name.ends_with("_count") {
            counts.insert(series_key(sample), sample.value);
        }
    }
    for (key, bucket) in &buckets {
        if bucket.windows(2).any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1) {
            return Err(format!("{}{{{key}}}: buckets are not cumulative in increasing le", family.name));
        }
        let inf = bucket.last().filter(|(le, _)| *le == f64::INFINITY).map(|(_, v)| *v);
        if inf.is_none() || inf != counts.get(key).copied() {
            return Err(format!("{}{{{key}}}: the +Inf bucket must exist and equal _count", family.name));
        }
    }
    Ok(())
}
