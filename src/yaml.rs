//! YAML in and out, with one set of reader and writer settings for the whole workspace.
//!
//! The library is serde-saphyr (already in the tree through kube): serde_yaml 0.9 is
//! deprecated by its author (RustSec has no advisory for it). The settings keep what serde_yaml did:
//!
//! - reading: YAML 1.2 core booleans only (`yes`, `on`, `y` are strings, and a `bool` field
//!   given one is refused), and in untyped values (`serde_json::Value`) `0755` and `1_000`
//!   stay strings; numbers, `null`/`~`/empty and quoted strings come out as before. Merge keys
//!   (`<<: *base`) are merged, as kubectl does (serde_yaml kept `<<` as a plain key).
//! - errors: one line, `what is wrong at line L, column C` (no source snippet), so they fit
//!   in the messages that embed them; [`message`] says what was found in place of the bare
//!   type the library names (`invalid u32`).
//! - writing: block style as kubectl writes it (sequences not indented under their key,
//!   `{}`/`[]` for empty collections), long strings on one line, strings with newlines as `|`
//!   blocks, and strings another reader could take for a boolean, number or null quoted.

use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Write as _;

pub use serde_saphyr::{Error, SerializeError};

/// The reader's settings (see the module's documentation).
pub fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
}

fn writer_options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    // no folding of long single-line strings into `>` blocks: a CRD description or a
    // message stays one line, as kubectl writes it
    o.folded_wrap_chars = usize::MAX;
    o
}

/// One YAML document (empty: `null`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// One YAML document, from UTF-8 bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_saphyr::from_slice_with_options(bytes, options())
}

/// Every document of a `---`-separated stream that is not empty: documents with nothing but
/// comments, a trailing `---` and `null` documents are skipped.
pub fn documents<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, Error> {
    serde_saphyr::from_multiple_with_options(text, options())
}

/// One YAML document, with the path of the field an error is about (`workloads[0].cpu`).
pub fn from_str_with_path<T: DeserializeOwned>(
    text: &str,
) -> Result<T, Box<(Error, serde_path_to_error::Path)>> {
    let mut track = serde_path_to_error::Track::new();
    serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    })
    .map_err(|e| Box::new((e, track.path())))
}

/// `value` as one YAML document (no leading `---`), ending with a newline.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, SerializeError> {
    serde_saphyr::to_string_with_options(value, writer_options())
}

/// The line (1-based) an error is at, when known.
pub fn line(e: &Error) -> Option<usize> {
    e.location()
        .filter(|l| l.line() > 0)
        .map(|l| l.line() as usize)
}

/// What is wrong, without the location, naming the value found in `text` (the text the error
/// came from) where the library only names the type it wanted.
pub fn message(e: &Error, text: &str) -> String {
    use serde_saphyr::MessageFormatter;
    let e = e.without_snippet();
    let found = || found_at(e, text);
    let m = match e {
        Error::InvalidScalar { ty, .. } => {
            format!("invalid value {}: expected {}", found(), expected(ty))
        }
        Error::InvalidBooleanStrict { .. } => {
            format!(
                "invalid value {}: expected a boolean, true or false",
                found()
            )
        }
        Error::Unexpected { expected, .. } => {
            let wanted = match *expected {
                "sequence start" => "a list (`[a, b]` or `- a` lines)",
                "mapping start" => "a mapping (`key: value` lines or `{key: value}`)",
                "string scalar" | "scalar" | "single YAML node" => {
                    "a single value (a string or a number), not a list or a mapping"
                }
                other => other,
            };
            format!("found {}, expected {wanted}", found())
        }
        Error::NullIntoString { .. } => "is empty (null): give a value".to_string(),
        Error::DuplicateMappingKey { key, .. } => match key {
            Some(k) => {
                format!("duplicate key `{k}`: a key may appear once per mapping, remove one")
            }
            None => "duplicate key: a key may appear once per mapping, remove one".to_string(),
        },
        Error::MultipleDocuments { .. } => {
            "more than one YAML document (`---` starts a new one): give one document".to_string()
        }
        Error::Eof { .. } => "unexpected end of the text: it is empty or cut short".to_string(),
        other => {
            let m = serde_saphyr::DefaultMessageFormatter.format_message(other);
            if m.contains("found a tab") {
                format!("{m}: indent with spaces, YAML does not allow tabs there")
            } else if m.starts_with("unclosed quote") {
                format!("{m}: close the quoted string on the same value")
            } else {
                m.into_owned()
            }
        }
    };
    // the message can quote the input: no control characters reach a terminal
    m.chars().fold(String::with_capacity(m.len()), |mut s, c| {
        if c.is_control() {
            let _ = write!(s, "{}", c.escape_default());
        } else {
            s.push(c);
        }
        s
    })
}

/// The type an [`Error::InvalidScalar`] wanted, in words.
fn expected(ty: &str) -> String {
    let range = |lo: i128, hi: i128| format!("a whole number from {lo} to {hi}");
    match ty {
        "u8" => range(0, u8::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        "u64" | "usize" => range(0, u64::MAX.into()),
        "i8" => range(i8::MIN.into(), i8::MAX.into()),
        "i16" => range(i16::MIN.into(), i16::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => range(i64::MIN.into(), i64::MAX.into()),
        "f32" | "f64" | "floating point" => "a number".to_string(),
        "bool" | "boolean" => "a boolean, true or false".to_string(),
        other => format!("a {other}"),
    }
}

/// The value at the error's location in `text`, quoted and shortened; `a value` when unknown.
fn found_at(e: &Error, text: &str) -> String {
    let Some(loc) = e.location() else {
        return "a value".into();
    };
    let (Ok(line), Ok(col)) = (usize::try_from(loc.line()), usize::try_from(loc.column())) else {
        return "a value".into();
    };
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else {
        return "a value".into();
    };
    let before: String = l.chars().take(col.saturating_sub(1)).collect();
    let rest: String = l.chars().skip(col.saturating_sub(1)).collect();
    let token = match rest.chars().next() {
        None => return "nothing (an empty value)".into(),
        Some('[') => return "a list".into(),
        Some('{') => return "a mapping".into(),
        Some('-') if rest.starts_with("- ") || rest == "-" => return "a list".into(),
        Some(q @ ('"' | '\'')) => match rest[1..].find(q) {
            Some(end) => rest[..end + 2].to_string(),
            None => rest.clone(),
        },
        Some(_) => {
            // a plain scalar ends at a comment, or in a flow collection at `,`, `]` or `}`
            let in_flow = before.contains('[') || before.contains('{');
            let end = rest
                .char_indices()
                .find(|&(i, c)| {
                    (in_flow && matches!(c, ',' | ']' | '}'))
                        || (c == '#' && rest[..i].ends_with(' '))
                })
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].trim_end().to_string()
        }
    };
    if token.is_empty() {
        return "nothing (an empty value)".into();
    }
    let short: String = token.chars().take(60).collect();
    if short.len() < token.len() {
        format!("`{short}…`")
    } else {
        format!("`{short}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[test]
    fn scalars_read_as_serde_yaml_read_them() {
        let v: Value = from_str(
            "a: 1\nb: true\nc: ~\nd: 1.5\ne: '1'\nf: yes\ng: 0755\nh: 1_000\ni: 0x1F\nk: null\n\
             l: 2024-01-01\nn: -3\no: 1e3\np: \"\"\nq:\nv: True\nw: on\ny: n\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": true, "c": null, "d": 1.5, "e": "1", "f": "yes", "g": "0755",
                   "h": "1_000", "i": 31, "k": null, "l": "2024-01-01", "n": -3, "o": 1000.0,
                   "p": "", "q": null, "v": true, "w": "on", "y": "n"})
        );
        assert_eq!(from_str::<Value>("").unwrap(), Value::Null);
        assert_eq!(
            from_str::<Value>("# only a comment\n").unwrap(),
            Value::Null
        );
    }

    #[test]
    fn streams_skip_empty_documents() {
        let docs: Vec<Value> =
            documents("---\n# a comment\n---\na: 1\n---\n---\nnull\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
        assert!(documents::<Value>("").unwrap().is_empty());
        assert!(documents::<Value>("---\n---\n").unwrap().is_empty());
        let e = documents::<Value>("a: 1\n---\nb: [\n").unwrap_err();
        assert_eq!(line(&e), Some(3), "{e}");
    }

    #[test]
    fn the_writer_writes_block_style_and_reads_back() {
        let v = json!({
            "kind": "X", "empty": {}, "none": [], "n": 2, "f": 1.5, "t": true, "nil": null,
            "items": [{"a": 1, "b": [1, 2]}, "s"],
            "quoted": {"a": "true", "b": "1", "c": "yes", "d": "", "e": "null", "f": "a: b", "g": "n"},
            "long": "a long description that goes on and on for well over eighty characters, on one line",
            "multi": "line one\nline two\n",
        });
        let y = to_string(&v).unwrap();
        assert!(!y.starts_with("---"), "{y}");
        let y = format!("\n{y}");
        assert!(
            y.contains("\nitems:\n- a: 1\n  b:\n  - 1\n  - 2\n- s\n"),
            "{y}"
        );
        assert!(
            y.contains("\nempty: {}\n") && y.contains("\nnone: []\n"),
            "{y}"
        );
        assert!(y.contains("\nlong: a long description that goes on"), "{y}");
        assert!(y.contains("\nmulti: |\n  line one\n  line two\n"), "{y}");
        for quoted in [
            "\"true\"", "\"1\"", "\"yes\"", "\"\"", "\"null\"", "\"a: b\"", "\"n\"",
        ] {
            assert!(y.contains(&format!(": {quoted}\n")), "{quoted} in {y}");
        }
        assert_eq!(from_str::<Value>(&y).unwrap(), v);
    }

    #[test]
    fn errors_name_the_value_found() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            n: u32,
            #[serde(default)]
            b: bool,
            #[serde(default)]
            l: Vec<String>,
        }
        let text = "n: lots\n";
        let (e, path) = *from_str_with_path::<T>(text).unwrap_err();
        assert_eq!(path.to_string(), "n");
        assert_eq!(line(&e), Some(1));
        assert_eq!(
            message(&e, text),
            "invalid value `lots`: expected a whole number from 0 to 4294967295"
        );
        let text = "n: 1\nb: yes # no\n";
        let (e, _) = *from_str_with_path::<T>(text).unwrap_err();
        assert_eq!(
            message(&e, text),
            "invalid value `yes`: expected a boolean, true or false"
        );
        let text = "{n: -1, b: true}";
        let (e, _) = *from_str_with_path::<T>(text).unwrap_err();
        assert!(message(&e, text).starts_with("invalid value `-1`:"), "{e}");
        let text = "n: 1\nl: x\n";
        let (e, path) = *from_str_with_path::<T>(text).unwrap_err();
        assert_eq!((path.to_string().as_str(), line(&e)), ("l", Some(2)));
        assert_eq!(
            message(&e, text),
            "found `x`, expected a list (`[a, b]` or `- a` lines)"
        );
        let text = "n: [1]\n";
        let (e, _) = *from_str_with_path::<T>(text).unwrap_err();
        assert!(
            message(&e, text).starts_with("found a list, expected a single value"),
            "{e}"
        );
        let text = "n: 1\nn: 2\n";
        let (e, _) = *from_str_with_path::<T>(text).unwrap_err();
        assert!(message(&e, text).starts_with("duplicate key `n`"), "{e}");
        let text = "n: \"\u{1b}[31m\"\nn: 2\n";
        let e = from_str::<Value>("a: [\u{7}").unwrap_err();
        assert!(!message(&e, text).chars().any(char::is_control), "{e}");
        // Display: one line, with the location
        let e = from_str::<T>("n: 1\nq: 2\n").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("unknown field `q`") && shown.ends_with("at line 2, column 1"),
            "{shown}"
        );
        assert!(!shown.contains('\n'), "{shown}");
    }
}
