//! Content negotiation: `Accept` chooses the scrape's [`Format`] and `Accept-Encoding` whether
//! it is gzip-compressed, by the q-values the request gives each choice (RFC 9110 section 12).

use crate::Format;

/// The best q-values (in thousandths) the request gave each choice.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Negotiation {
    openmetrics: u16,
    text: u16,
    #[cfg(feature = "protobuf")]
    protobuf: u16,
    gzip: Option<u16>,
    any_encoding: Option<u16>,
}

impl Negotiation {
    /// Folds in one `Accept` value. Ranges with a malformed parameter or q-value are ignored.
    pub(super) fn accept(&mut self, value: &[u8]) {
        for range in value.split(|&b| b == b',') {
            let mut parts = range.split(|&b| b == b';');
            let media = parts.next().unwrap_or_default().trim_ascii();
            let Some(Params { q, version, proto, encoding }) = params(parts) else { continue };
            let version_is = |wanted: &[u8]| version.is_none_or(|v| v == wanted);
            if media.eq_ignore_ascii_case(b"application/vnd.google.protobuf") {
                #[cfg(feature = "protobuf")]
                if proto == Some(b"io.prometheus.client.MetricFamily") && encoding == Some(b"delimited") {
                    self.protobuf = self.protobuf.max(q);
                }
                #[cfg(not(feature = "protobuf"))]
                let _ = (proto, encoding);
            } else if media.eq_ignore_ascii_case(b"application/openmetrics-text") {
                if version_is(b"1.0.0") {
                    self.openmetrics = self.openmetrics.max(q);
                }
            } else if media.eq_ignore_ascii_case(b"text/plain") {
                if version_is(b"0.0.4") {
                    self.text = self.text.max(q);
                }
            } else if media == b"*/*" || media.eq_ignore_ascii_case(b"text/*") {
                self.text = self.text.max(q);
            }
        }
    }

    /// Folds in one `Accept-Encoding` value.
    pub(super) fn accept_encoding(&mut self, value: &[u8]) {
        for item in value.split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let coding = parts.next().unwrap_or_default().trim_ascii();
            let Some(Params { q, .. }) = params(parts) else { continue };
            let best = |old: Option<u16>| Some(old.map_or(q, |old| old.max(q)));
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                self.gzip = best(self.gzip);
            } else if coding == b"*" {
                self.any_encoding = best(self.any_encoding);
            }
        }
    }

    /// Protobuf when its q-value is above zero and above OpenMetrics' and text's; else
    /// OpenMetrics when above zero and above text's; else Prometheus text, the default.
    pub(super) fn format(&self) -> Format {
        #[cfg(feature = "protobuf")]
        if self.protobuf > 0 && self.protobuf > self.openmetrics && self.protobuf > self.text {
            return Format::Protobuf;
        }
        if self.openmetrics > 0 && self.openmetrics > self.text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// Whether `gzip` (or, when `gzip` is not named, `*`) has a q-value above zero.
    pub(super) fn gzip(&self) -> bool {
        self.gzip.or(self.any_encoding).is_some_and(|q| q > 0)
    }
}

/// The parameters of one media range or coding that negotiation looks at.
struct Params<'a> {
    /// In thousandths; 1000 when absent.
    q: u16,
    version: Option<&'a [u8]>,
    /// `proto` and `encoding`, for `application/vnd.google.protobuf`.
    proto: Option<&'a [u8]>,
    encoding: Option<&'a [u8]>,
}

/// The q-value (default 1000), `version`, `proto` and `encoding` of `;`-separated `name=value`
/// parameters (values may be quoted); `None` when one is malformed.
fn params<'a>(params: impl Iterator<Item = &'a [u8]>) -> Option<Params<'a>> {
    let mut parsed = Params { q: 1000, version: None, proto: None, encoding: None };
    for param in params {
        let eq = param.iter().position(|&b| b == b'=')?;
        let name = param.get(..eq)?.trim_ascii();
        let value = param.get(eq + 1..)?.trim_ascii();
        let unquoted = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
        if name.eq_ignore_ascii_case(b"q") {
            parsed.q = parse_q(value)?;
        } else if name.eq_ignore_ascii_case(b"version") {
            parsed.version = Some(unquoted);
        } else if name.eq_ignore_ascii_case(b"proto") {
            parsed.proto = Some(unquoted);
        } else if name.eq_ignore_ascii_case(b"encoding") {
            parsed.encoding = Some(unquoted);
        }
    }
    Some(parsed)
}

/// RFC 9110 `qvalue` in thousandths: `0`, `0.5`, `1.000`...
fn parse_q(value: &[u8]) -> Option<u16> {
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (value.get(..dot)?, value.get(dot + 1..)?),
        None => (value, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = (0..3).fold(0, |acc, i| acc * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0')));
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &str) -> Format {
        let mut n = Negotiation::default();
        n.accept(accept.as_bytes());
        n.format()
    }

    fn gzip(accept_encoding: &str) -> bool {
        let mut n = Negotiation::default();
        n.accept_encoding(accept_encoding.as_bytes());
        n.gzip()
    }

    #[test]
    fn accept_negotiation() {
        use Format::{OpenMetrics as Om, Prometheus as Prom};
        for (accept, expected) in [
            ("", Prom),
            ("*/*", Prom),
            ("text/plain", Prom),
            ("application/openmetrics-text", Om),
            ("Application/OpenMetrics-Text; Version=\"1.0.0\"", Om),
            ("application/openmetrics-text;version=0.0.1", Prom),
            ("application/openmetrics-text;version=1.0.0;q=0", Prom),
            ("application/openmetrics-text;q=0.5, text/plain;q=0.6", Prom),
            ("application/openmetrics-text;q=0.5, text/plain;q=0.5", Prom), // ties go to the default
            ("application/openmetrics-text;q=0.5, */*;q=0.1", Om),
            ("application/openmetrics-text;q=0.5, text/*;q=0.9", Prom),
            ("text/plain;version=1.0.0, application/openmetrics-text;q=0.1", Om),
            ("application/openmetrics-text;q=2", Prom), // invalid q: range ignored
            ("application/openmetrics-text;q=0.1234", Prom),
            ("application/openmetrics-text;garbage", Prom),
            ("application/openmetrics-text;q=1.000", Om),
            // What Prometheus 2.x sends.
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                 text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Om,
            ),
            // Prometheus 3.x, with escaping and a text 1.0.0 option.
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
                Om,
            ),
            // Prometheus configured for text first.
            ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.8", Prom),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept}");
        }
    }

    #[test]
    fn protobuf_negotiation() {
        // What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
        let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,\
                          application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;\
                          q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        #[cfg(feature = "protobuf")]
        let protobuf = Format::Protobuf;
        #[cfg(not(feature = "protobuf"))]
        let protobuf = Format::OpenMetrics;
        assert_eq!(negotiate(prometheus), protobuf);
        let delimited = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        #[cfg(feature = "protobuf")]
        for (accept, expected) in [
            (delimited.to_owned(), Format::Protobuf),
            (format!("{delimited};q=0.5, text/plain;q=0.4"), Format::Protobuf),
            (format!("{delimited};q=0.5, text/plain;q=0.5"), Format::Prometheus), // ties go to text
            (format!("{delimited};q=0.5, application/openmetrics-text;q=0.9"), Format::OpenMetrics),
            (format!("{delimited};q=0"), Format::Prometheus),
            (
                "Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=\"delimited\""
                    .to_owned(),
                Format::Protobuf,
            ),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily".to_owned(), Format::Prometheus),
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text".to_owned(),
                Format::Prometheus,
            ),
            ("application/vnd.google.protobuf;encoding=delimited".to_owned(), Format::Prometheus),
            ("application/vnd.google.protobuf;proto=other.Message;encoding=delimited".to_owned(), Format::Prometheus),
        ] {
            assert_eq!(negotiate(&accept), expected, "{accept}");
        }
        #[cfg(not(feature = "protobuf"))]
        assert_eq!(negotiate(delimited), Format::Prometheus);
    }

    #[test]
    fn encoding_negotiation() {
        for (value, expected) in [
            ("", false),
            ("gzip", true),
            ("GZip;q=0.1", true),
            ("x-gzip", true),
            ("deflate, br", false),
            ("gzip;q=0", false),
            ("*", true),
            ("*;q=0", false),
            ("gzip;q=0, *", false),
            ("identity, gzip;q=0.5", true),
            ("gzip;q=x", false),
            ("gzip;q=0,gzip;q=0.3", true),
        ] {
            assert_eq!(gzip(value), expected, "{value}");
        }
    }

    #[test]
    fn q_values() {
        for (q, expected) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("", None),
            (".5", None),
            ("-0", None),
            ("0.a", None),
        ] {
            assert_eq!(parse_q(q.as_bytes()), expected, "{q}");
        }
    }
}
