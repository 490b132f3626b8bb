//! Shell-style globs for policy patterns (waiver paths and images, label values).

pub fn check(g: &str) -> Result<(), String> {
    let mut in_class = false;
    for c in g.chars() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ => {}
        }
    }
    if in_class {
        Err(format!("unterminated [ in pattern {g:?}"))
    } else {
        Ok(())
    }
}

/// Shell-style glob: `*` any run of characters (including `/`), `?` one character,
/// `[abc]`, `[a-z]`, `[!x]` a class.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the class starting at p[start] == '['. Returns (matched, index after ']').
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("/usr/bin/*", "/usr/bin/passwd"));
        assert!(matches("*passwd", "/usr/bin/passwd"));
        assert!(matches("/usr/bin/p?sswd", "/usr/bin/passwd"));
        assert!(matches("[0-9]*.[0-9]*", "12.4"));
        assert!(!matches("[0-9]*.[0-9]*", "v12.4"));
        assert!(matches("[!a]x", "bx"));
        assert!(!matches("/usr/bin/*", "/usr/sbin/x"));
        assert!(matches("registry.example.com/team/*", "registry.example.com/team/app:1"));
        assert!(!matches("a", "ab"));
        assert!(matches("", ""));
        assert!(matches("**", "anything/at/all"));
        assert!(check("[a-z").is_err());
        assert!(check("[a-z]*").is_ok());
    }
}
