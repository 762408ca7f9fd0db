//! Text a guest wrote (its `host.log` lines, its stderr, its tool descriptions), made safe to
//! show an operator: control characters (C0, DEL, C1, and the Unicode line and paragraph
//! separators and bidirectional overrides) are escaped as `\n`, `\u{1b}` and so on, so guest
//! text can neither start a forged log line nor drive a terminal. Such text goes in a log
//! field, never as the message.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character escaped; borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if is_control(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept() {
        assert!(matches!(
            escape("fine: grüße"),
            Cow::Borrowed("fine: grüße")
        ));
    }

    #[test]
    fn control_characters_cannot_break_a_line_or_drive_a_terminal() {
        let forged = "ok\n2030-01-01 ERROR forged\r\x1b[2J\x1b]0;t\x07\u{85}\u{2028}\u{202e}";
        let shown = escape(forged);
        assert_eq!(
            shown,
            "ok\\n2030-01-01 ERROR forged\\r\\u{1b}[2J\\u{1b}]0;t\\u{7}\\u{85}\\u{2028}\\u{202e}"
        );
        assert!(!shown.chars().any(is_control));
    }
}
