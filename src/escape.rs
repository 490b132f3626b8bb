//! Image-controlled bytes (file names, symlink targets, labels) made safe to print.
//!
//! The escaping is lossless: printable UTF-8 is kept as is, `\` becomes `\\`, and every
//! byte that is not valid UTF-8 or is a control character becomes `\xNN`; control and
//! formatting code points outside ASCII (C1 controls, bidi overrides, zero-width marks)
//! become `\u{NNNN}`. `unescape` restores the original bytes exactly.

/// Escape arbitrary bytes into a printable, lossless string.
pub fn bytes(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_str(&mut out, valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // SAFETY of the unwrap: from_utf8 has just said this prefix is valid.
                push_str(&mut out, std::str::from_utf8(valid).unwrap());
                let bad = e.error_len().unwrap_or(after.len());
                for b in &after[..bad] {
                    push_hex(&mut out, *b);
                }
                rest = &after[bad..];
            }
        }
    }
    out
}

/// Escape a string that is already UTF-8 (e.g. a label value) the same way.
pub fn text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    push_str(&mut out, input);
    out
}

/// Make control and invisible formatting characters visible (`\xNN`, `\u{NNNN}`), leaving
/// everything else, backslashes included, as it is. Renderers use it as a last line of
/// defence on values that may not have gone through [`text`] (raw strings from the image
/// config); unlike [`text`] it is idempotent on already-escaped text.
pub fn controls(input: &str) -> std::borrow::Cow<'_, str> {
    if !input.chars().any(|c| is_control(c) || is_invisible(c)) {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        if is_control(c) {
            push_hex(&mut out, c as u8);
        } else if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    (c as u32) < 0x20 || c as u32 == 0x7f
}

fn push_str(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_control(c) {
            push_hex(out, c as u8);
        } else if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    out.push('x');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// Code points that change how surrounding text is displayed without being visible.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f            // C1 controls (CSI and friends)
        | 0x061c               // Arabic letter mark, a bidi control like U+200F
        | 0x200b..=0x200f      // zero-width and directional marks
        | 0x2028..=0x202e      // separators and bidi embeddings/overrides
        | 0x2060..=0x2069      // word joiner, bidi isolates
        | 0xfeff               // BOM
        | 0xfff9..=0xfffb) // interlinear annotations
}

/// Reverse of [`bytes`]. Returns None for a string that `bytes` cannot have produced.
pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next()? {
            '\\' => out.push(b'\\'),
            'x' => {
                let hi = chars.next()?.to_digit(16)?;
                let lo = chars.next()?.to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut v = 0u32;
                loop {
                    let d = chars.next()?;
                    if d == '}' {
                        break;
                    }
                    v = v.checked_mul(16)?.checked_add(d.to_digit(16)?)?;
                }
                let c = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_unchanged() {
        assert_eq!(bytes(b"/usr/bin/su"), "/usr/bin/su");
        assert_eq!(bytes("/opt/caf\u{e9}".as_bytes()), "/opt/caf\u{e9}");
    }

    #[test]
    fn controls_and_invalid_bytes_are_escaped() {
        assert_eq!(bytes(b"a\nb"), "a\\x0ab");
        assert_eq!(bytes(b"\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(bytes(b"bad\xff\xfe"), "bad\\xff\\xfe");
        assert_eq!(bytes(b"back\\slash"), "back\\\\slash");
        assert_eq!(bytes("rtl\u{202e}txt".as_bytes()), "rtl\\u{202e}txt");
        assert_eq!(bytes("c1\u{9b}x".as_bytes()), "c1\\u{009b}x");
        assert_eq!(bytes("alm\u{61c}".as_bytes()), "alm\\u{061c}");
    }

    #[test]
    fn controls_only_touches_controls() {
        assert_eq!(controls("a\\b"), "a\\b");
        assert_eq!(controls("a\nb\x1b[1m\u{202e}"), "a\\x0ab\\x1b[1m\\u{202e}");
        let once = controls("x\ty").into_owned();
        assert_eq!(controls(&once), once);
    }

    #[test]
    fn escaping_is_lossless() {
        let samples: Vec<Vec<u8>> = vec![
            b"\xff\x00\\x41\\".to_vec(),
            "\u{202e}\u{9b}\u{e9}\n\t".as_bytes().to_vec(),
            (0u8..=255).collect(),
            b"\xe2\x82".to_vec(), // truncated multibyte sequence
        ];
        for s in samples {
            let e = bytes(&s);
            assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
            assert_eq!(unescape(&e).as_deref(), Some(&s[..]));
        }
    }
}
