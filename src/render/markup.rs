//! Escaping for each template format. Registered as the Handlebars escape function of that
//! format's registry, so every `{{value}}` is escaped for where it lands; `{{{value}}}`
//! (no escaping) is only for text our own helpers made safe.
//!
//! All three first make control and invisible formatting characters visible
//! (`escape::controls`): model strings are escaped already, but labels, the command and other
//! image-config strings are raw, and a newline or an ANSI/bidi sequence must not reach a
//! reader either way.

use crate::escape::controls;

/// HTML text and attribute values (Handlebars' own rules: `& < > " ' \` =`).
pub fn html(s: &str) -> String {
    handlebars::html_escape(&controls(s))
}

/// XML 1.0 text and attribute values. Characters XML cannot carry at all (C0 controls,
/// U+FFFE, U+FFFF) never get here: `controls` has made them visible text.
pub fn xml(s: &str) -> String {
    let s = controls(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Markdown (CommonMark/GFM as GitLab and GitHub render it) inline text and table cells:
/// inline markup characters are backslash-escaped, `<`, `>` and `&` become entities (so no
/// HTML gets through), `|` is escaped so a value cannot split a table cell. The result is
/// inert text. A mention (`@name`) cannot be backslash-escaped in these dialects (they find
/// mentions after Markdown is parsed), so an `@` that could start one goes into a code span
/// with the name after it, where neither looks for mentions: `@all` in an image can't notify
/// a project.
pub fn markdown(s: &str) -> String {
    let s = controls(s);
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        // A mention starts at an `@` that does not follow a word character (so not in
        // `user@host` or `app@sha256:…`).
        let starts_mention = c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_');
        prev = Some(c);
        if starts_mention {
            out.push_str("`@");
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || matches!(n, '_' | '-' | '.' | '@') {
                    out.push(n);
                    prev = Some(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('`');
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '~' | '$' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span holding `s` literally (outside tables). Inside a code span nothing
/// is markup, no HTML and no mention; a backtick run in the value gets a longer fence.
pub fn markdown_code(s: &str) -> String {
    code_span(&controls(s), false)
}

/// A code span for a GFM table cell: as `markdown_code`, with `|` escaped, which GFM
/// resolves before the code span is parsed.
pub fn markdown_code_cell(s: &str) -> String {
    code_span(&controls(s), true)
}

fn code_span(s: &str, in_table: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let body = if in_table { s.replace('|', "\\|") } else { s.to_string() };
    // CommonMark strips one space from each end when both are there; pad so a value that
    // starts or ends with a backtick or space survives.
    let pad = s.starts_with('`') || s.ends_with('`') || s.starts_with(' ') || s.ends_with(' ');
    if pad {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_inert() {
        assert_eq!(html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(html("a\"b'c`d=e&"), "a&quot;b&#x27;c&#x60;d&#x3D;e&amp;");
        assert_eq!(html("x\n\u{1b}[31m"), "x\\x0a\\x1b[31m");
    }

    #[test]
    fn xml_is_well_formed_text() {
        assert_eq!(xml("<a b=\"c\" d='e'>&</a>"), "&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;&lt;/a&gt;");
        assert_eq!(xml("\u{0}\u{8}\u{ffff}"), "\\x00\\x08\\u{ffff}");
    }

    #[test]
    fn markdown_is_inert() {
        assert_eq!(markdown("<script>alert(1)</script>"), "&lt;script&gt;alert\\(1\\)&lt;/script&gt;");
        assert_eq!(markdown("[x](javascript:y) | *b* `c`"), "\\[x\\]\\(javascript:y\\) \\| \\*b\\* \\`c\\`");
        assert_eq!(markdown("a\nb"), "a\\\\x0ab");
        assert_eq!(markdown("/usr/lib/x86_64-linux-gnu/libc.so.6"), "/usr/lib/x86\\_64-linux-gnu/libc.so.6");
    }

    #[test]
    fn markdown_mentions_go_into_code_spans() {
        assert_eq!(markdown("hi @all!"), "hi `@all`\\!");
        assert_eq!(markdown("(@b.c) `x"), "\\(`@b.c`\\) \\`x");
        assert_eq!(markdown("app@sha256:00 me@example.com"), "app@sha256:00 me@example.com");
        assert_eq!(markdown("\\@x"), "\\\\`@x`");
    }

    #[test]
    fn code_spans() {
        assert_eq!(markdown_code("@all <b>"), "`@all <b>`");
        assert_eq!(markdown_code("a`b``c"), "```a`b``c```");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code_cell("a|b"), "`a\\|b`");
        assert_eq!(markdown_code("a\nb"), "`a\\x0ab`");
        assert_eq!(markdown_code(""), "");
    }
}
