use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{EntryKind, Finding, Severity};
use std::collections::BTreeMap;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "build-hygiene",
    title: "Build steps and final files show a clean, reproducible build",
    severity: Severity::Low,
    rationale: "How an image was built shows in its history and its files. `ADD` of a remote URL \
        fetches unverified content at build time (CIS 4.9); `apt-get update` in a step of its own \
        is cached by the builder and later installs use stale package lists (CIS 4.7); an \
        `upgrade`/`dist-upgrade` in the image makes the build unreproducible and belongs in the \
        base image; `curl … | sh` runs whatever a server returns, unverified, as root; package \
        manager caches (apt lists and archives, apk, yum, dnf caches) left in the final image \
        add size and stale metadata for no use at run time.",
    remediation: "Use COPY of verified files or RUN curl with a checksum check instead of ADD URL; \
        run `apt-get update && apt-get install -y …` in one RUN; update the base image rather than \
        upgrading in it; download installers, verify their checksum or signature, then run them; \
        clean caches in the step that fills them (`rm -rf /var/lib/apt/lists/*`, \
        `apk add --no-cache`, `dnf clean all`).",
    reads_layers: true,
    controls: &[
        "CIS Docker 1.6 4.7",
        "CIS Docker 1.6 4.9",
        "NIST SP 800-190 4.1.2",
        "DISA CIDG V2R0.6 minimal-cached-layers",
    ],
};

/// Longest quote of a build step in a note, in characters (before escaping).
const QUOTE_CHARS: usize = 120;

/// `s` cut to at most `max` characters, marked with `…` when cut, then escaped.
pub(super) fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", crate::escape::text(&s[..i])),
        None => crate::escape::text(s),
    }
}

// ---------------------------------------------------------------------------------------
// Patterns, as data
// ---------------------------------------------------------------------------------------

/// One package manager's subcommands that matter here.
struct PackageManager {
    names: &'static [&'static str],
    /// Refreshes the package index only: fine only with an install in the same step.
    refresh: &'static [&'static str],
    install: &'static [&'static str],
    /// Upgrades what the base image installed.
    upgrade: &'static [&'static str],
    /// Short options that take a separate argument (so it is not the subcommand).
    options_with_argument: &'static [&'static str],
}

const PACKAGE_MANAGERS: &[PackageManager] = &[
    PackageManager {
        names: &["apt-get", "apt", "aptitude"],
        refresh: &["update"],
        install: &["install", "build-dep", "reinstall"],
        upgrade: &["upgrade", "dist-upgrade", "full-upgrade", "safe-upgrade"],
        options_with_argument: &["-o", "-c", "-t"],
    },
    PackageManager {
        names: &["apk"],
        refresh: &["update"],
        install: &["add"],
        upgrade: &["upgrade"],
        options_with_argument: &["-X", "-p", "-t", "--repository", "--root", "--virtual"],
    },
    PackageManager {
        names: &["dnf", "yum", "microdnf", "tdnf"],
        refresh: &["makecache"],
        install: &["install"],
        // `yum update` is yum's upgrade.
        upgrade: &["upgrade", "update", "distro-sync", "upgrade-minimal", "update-minimal"],
        options_with_argument: &["-c", "-d", "-e", "-x", "--setopt", "--releasever", "--installroot"],
    },
    PackageManager {
        names: &["zypper"],
        refresh: &["refresh", "ref"],
        install: &["install", "in"],
        upgrade: &["update", "up", "dist-upgrade", "dup", "patch"],
        options_with_argument: &["-r", "--root"],
    },
];

/// Downloaders whose output piped into a shell runs unverified code.
const DOWNLOADERS: &[&str] = &["curl", "wget", "fetch"];
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"];
/// Words that run the command after them (and their options), and shell keywords before one.
const WRAPPERS: &[&str] = &[
    "sudo", "env", "nice", "nohup", "time", "exec", "command", "doas", "{", "}", "!", "if", "then", "else", "elif",
    "while", "until", "do",
];

/// Package-manager caches, as (glob on the full path, what): a finding when one holds files.
/// The directories themselves, Debian's empty `lists/partial` and the `lock` files are no
/// cache left behind.
pub const CACHES: &[(&str, &str)] = &[
    ("/var/lib/apt/lists/*", "apt package lists"),
    ("/var/cache/apt/*.bin", "apt package cache"),
    ("/var/cache/apt/archives/*.deb", "downloaded .deb packages"),
    ("/var/cache/apk/*", "apk cache"),
    ("/var/cache/yum/*", "yum cache"),
    ("/var/cache/dnf/*", "dnf cache"),
];

// ---------------------------------------------------------------------------------------
// History: created_by → what the step ran
// ---------------------------------------------------------------------------------------

/// What one history entry did, as far as its created_by tells.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    /// A shell script (RUN).
    Run(String),
    /// A Containerfile instruction recorded by name (`ADD https://… in /`), with its arguments.
    Instruction(&'a str, &'a str),
}

/// Parse created_by as buildah/podman (`/bin/sh -c apt-get update`, `|1 A=x /bin/sh -c …`,
/// `ADD https://x in /`), Docker (`/bin/sh -c #(nop) ADD file:… in /`) and BuildKit
/// (`RUN /bin/sh -c … # buildkit`, `ADD https://x / # buildkit`) write it.
fn parse_step(created_by: &str) -> Step<'_> {
    let mut s = created_by.trim();
    if let Some(rest) = s.strip_suffix("# buildkit") {
        s = rest.trim_end();
    }
    let run = s.strip_prefix("RUN ");
    if let Some(rest) = run {
        s = rest.trim_start();
    }
    s = skip_build_args(s);
    let shell = ["/bin/sh -c ", "/bin/bash -c ", "/bin/sh -o pipefail -c ", "/bin/bash -o pipefail -c "]
        .iter()
        .find_map(|p| s.strip_prefix(p));
    match shell {
        Some(script) => match script.trim_start().strip_prefix("#(nop)") {
            Some(instr) => instruction(instr.trim_start()),
            None => Step::Run(script.to_string()),
        },
        None if s.starts_with('[') => match serde_json::from_str::<Vec<String>>(s) {
            // Exec form: one command, words given.
            Ok(words) => Step::Run(words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")),
            Err(_) => instruction(s),
        },
        // Kaniko and others: `RUN apt-get update`, no shell named.
        None if run.is_some() => Step::Run(s.to_string()),
        None => instruction(s),
    }
}

/// `|N K=V …` (buildah/Docker record the build args a RUN saw): skip the N assignments.
fn skip_build_args(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('|') else { return s };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(n) = rest[..digits].parse::<usize>() else { return s };
    let mut rest = rest[digits..].trim_start();
    for _ in 0..n {
        rest = rest.find(char::is_whitespace).map(|i| rest[i..].trim_start()).unwrap_or("");
    }
    rest
}

fn instruction(s: &str) -> Step<'_> {
    let (name, args) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    Step::Instruction(name, args.trim())
}

fn shell_quote(w: &str) -> String {
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// One simple command of a script: its words (quotes removed) and its source text.
#[derive(Debug)]
struct Command<'a> {
    words: Vec<String>,
    text: &'a str,
}

/// A script as lists of pipelines (`a | b && c; d` → [[a, b], [c], [d]]). Quotes and
/// backslashes are honoured; `$(…)` and backticks stay inside their word. Good enough to read
/// build steps, not a shell.
fn pipelines(script: &str) -> Vec<Vec<Command<'_>>> {
    let b = script.as_bytes();
    let mut out: Vec<Vec<Command>> = vec![Vec::new()];
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut start: Option<usize> = None;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut depth = 0usize; // inside $( … )
    let finish_word = |word: &mut Option<Vec<u8>>, words: &mut Vec<String>| {
        if let Some(w) = word.take() {
            words.push(String::from_utf8_lossy(&w).into_owned());
        }
    };
    macro_rules! end_command {
        ($end:expr) => {{
            finish_word(&mut word, &mut words);
            if let Some(s) = start.take() {
                let words = std::mem::take(&mut words);
                out.last_mut().unwrap().push(Command { words, text: script[s..$end].trim() });
            }
        }};
    }
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == b'\\' && q == b'"' && i + 1 < b.len() {
                i += 1;
                word.get_or_insert_with(Vec::new).push(b[i]);
            } else {
                word.get_or_insert_with(Vec::new).push(c);
            }
            i += 1;
            continue;
        }
        if depth > 0 {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            word.get_or_insert_with(Vec::new).push(c);
            i += 1;
            continue;
        }
        match c {
            b'\\' if b.get(i + 1) == Some(&b'\n') => i += 2,
            b'\\' if i + 1 < b.len() => {
                start.get_or_insert(i);
                word.get_or_insert_with(Vec::new).push(b[i + 1]);
                i += 2;
            }
            b'\'' | b'"' => {
                start.get_or_insert(i);
                word.get_or_insert_with(Vec::new);
                quote = Some(c);
                i += 1;
            }
            b'$' | b'<' if b.get(i + 1) == Some(&b'(') => {
                start.get_or_insert(i);
                word.get_or_insert_with(Vec::new).extend_from_slice(&b[i..i + 2]);
                depth = 1;
                i += 2;
            }
            // Redirections (2>&1, &>/dev/null) are not list operators.
            b'&' if i > 0 && matches!(b[i - 1], b'>' | b'<') || b.get(i + 1) == Some(&b'>') => {
                start.get_or_insert(i);
                word.get_or_insert_with(Vec::new).push(c);
                i += 1;
            }
            b'|' if b.get(i + 1) != Some(&b'|') => {
                end_command!(i);
                i += 1;
            }
            b'&' | b'|' | b';' | b'\n' | b'(' | b')' => {
                end_command!(i);
                if out.last().is_some_and(|p| !p.is_empty()) {
                    out.push(Vec::new());
                }
                i += if b.get(i + 1) == Some(&c) { 2 } else { 1 };
            }
            c if c.is_ascii_whitespace() => {
                finish_word(&mut word, &mut words);
                i += 1;
            }
            _ => {
                start.get_or_insert(i);
                word.get_or_insert_with(Vec::new).push(c);
                i += 1;
            }
        }
    }
    end_command!(b.len());
    out.retain(|p| !p.is_empty());
    out
}

/// The program a command runs and its arguments, past `VAR=x`, `sudo -E`, `env -i`….
fn program(words: &[String]) -> Option<(&str, &[String])> {
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let base = w.rsplit('/').next().unwrap_or(w);
        if w.contains('=') && !w.starts_with('-') && !w.starts_with('=') {
            i += 1;
        } else if WRAPPERS.contains(&base) {
            i += 1;
            while i < words.len() && words[i].starts_with('-') {
                // sudo -u USER, env -u NAME take an argument.
                let takes = matches!(words[i].as_str(), "-u" | "-g" | "-C" | "-h");
                i += if takes { 2 } else { 1 };
            }
        } else {
            return Some((base, &words[i + 1..]));
        }
    }
    None
}

/// The subcommand of a package-manager call: the first word that is not an option (nor an
/// option's argument).
fn subcommand<'w>(pm: &PackageManager, args: &'w [String]) -> Option<&'w str> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if pm.options_with_argument.contains(&a) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(a);
        }
    }
    None
}

/// What a RUN script did wrong: (what, the quoted part).
fn script_findings(script: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let pls = pipelines(script);
    let commands = || pls.iter().flatten();
    for pm in PACKAGE_MANAGERS {
        let sub = |c: &Command| {
            let (prog, args) = program(&c.words)?;
            if pm.names.contains(&prog) {
                subcommand(pm, args).map(str::to_string)
            } else {
                None
            }
        };
        // An upgrade uses the fresh index too; it is reported on its own.
        let installs = commands()
            .any(|c| sub(c).is_some_and(|s| pm.install.contains(&s.as_str()) || pm.upgrade.contains(&s.as_str())));
        for c in commands() {
            let Some(s) = sub(c) else { continue };
            if pm.refresh.contains(&s.as_str()) && !installs {
                found.push(("package index refreshed without an install in the same step", c.text.to_string()));
            }
            if pm.upgrade.contains(&s.as_str()) {
                found.push(("packages of the base image upgraded in the image", c.text.to_string()));
            }
        }
    }
    for p in &pls {
        let progs: Vec<Option<&str>> = p.iter().map(|c| program(&c.words).map(|(prog, _)| prog)).collect();
        let downloads = progs.iter().position(|p| p.is_some_and(|p| DOWNLOADERS.contains(&p)));
        let shell = progs.iter().rposition(|p| p.is_some_and(|p| SHELLS.contains(&p)));
        if let (Some(d), Some(s)) = (downloads, shell) {
            if d < s {
                let text = &script[offset(script, p[d].text)..offset(script, p[s].text) + p[s].text.len()];
                found.push(("a download piped into a shell", text.to_string()));
                continue;
            }
        }
        // sh -c "$(curl …)", bash <(wget …)
        for c in p {
            if let Some((prog, args)) = program(&c.words) {
                let substituted = args.iter().any(|a| {
                    DOWNLOADERS
                        .iter()
                        .any(|d| [format!("$({d} "), format!("<({d} "), format!("`{d} ")].iter().any(|f| a.contains(f)))
                });
                if SHELLS.contains(&prog) && substituted {
                    found.push(("a download run by a shell", c.text.to_string()));
                }
            }
        }
    }
    found
}

/// Byte offset of `part` (a subslice) in `whole`.
fn offset(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// What an instruction recorded in the history did wrong.
fn instruction_findings(name: &str, args: &str) -> Vec<(&'static str, String)> {
    let remote = |w: &&str| {
        let w = w.to_ascii_lowercase();
        w.starts_with("http://") || w.starts_with("https://") || w.starts_with("ftp://")
    };
    if name.eq_ignore_ascii_case("ADD") {
        if let Some(url) = args.split_whitespace().find(remote) {
            return vec![("ADD of a remote URL", format!("ADD {url}"))];
        }
    }
    Vec::new()
}

/// Findings of one created_by: (what, quote).
fn step_findings(created_by: &str) -> Vec<(&'static str, String)> {
    match parse_step(created_by) {
        Step::Run(script) => script_findings(&script),
        Step::Instruction(name, args) => instruction_findings(name, args),
    }
}

fn history_findings(ctx: &Context) -> Vec<Finding> {
    let history = &ctx.image.history;
    let made = history.iter().filter(|h| !h.empty_layer).count();
    // A history that does not account for every layer cannot say which layer a step made.
    let attributable = made == ctx.fs.layers.len();
    let mut layer = 0;
    let mut out = Vec::new();
    for (i, h) in history.iter().enumerate() {
        if !h.empty_layer {
            layer += 1;
        }
        let step_layer = if h.empty_layer || !attributable { 0 } else { layer };
        for (what, quote) in step_findings(&h.created_by) {
            let note = format!("{what}: {}", shorten(&quote, QUOTE_CHARS));
            out.push(ctx.config_finding(&format!("history step {}", i + 1), step_layer, true, Some(note)));
        }
    }
    out
}

/// Files left in package caches: per cache and layer, one finding on the first file (in path
/// order) with the count, so a full apt lists directory is one line, not fifty.
fn cache_findings(ctx: &Context, hits: &[Loc]) -> Vec<Finding> {
    // (cache, layer, visible) → the first file in path order, and the count.
    struct Group {
        path: Vec<u8>,
        loc: Loc,
        files: usize,
    }
    let mut groups: BTreeMap<(usize, u16, bool), Group> = BTreeMap::new();
    for &loc in hits {
        let e = ctx.fs.entry(loc);
        if !matches!(e.kind, EntryKind::File | EntryKind::Symlink) || e.name() == b"lock" {
            continue;
        }
        let path = String::from_utf8_lossy(&e.path);
        let Some(cache) = CACHES.iter().position(|(g, _)| crate::glob::matches(g, &path)) else { continue };
        let g = groups.entry((cache, loc.layer, ctx.fs.is_visible(loc))).or_insert_with(|| Group {
            path: e.path.to_vec(),
            loc,
            files: 0,
        });
        if e.path[..] < g.path[..] {
            (g.path, g.loc) = (e.path.to_vec(), loc);
        }
        g.files += 1;
    }
    groups
        .into_iter()
        .map(|((cache, _, visible), Group { loc, files: n, .. })| {
            let (glob, what) = CACHES[cache];
            let dir = &glob[..glob.rfind('/').unwrap_or(0)];
            let note = format!("{what} left in the image: {n} file{} under {dir}", crate::text::plural(n, "", "s"));
            ctx.finding(loc, visible, Some(note))
        })
        .collect()
}

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { patterns: CACHES.iter().map(|(g, _)| g.to_string()).collect(), ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        let mut findings = history_findings(ctx);
        let steps = findings.len();
        let mut files = cache_findings(ctx, hits);
        super::tools::sort_findings(&mut files);
        let caches = files.iter().filter(|f| f.violation).count();
        let hidden = files.len() - caches;
        findings.extend(files);
        let mut parts = Vec::new();
        if steps > 0 {
            parts.push(format!("{steps} build step finding{}", crate::text::plural(steps, "", "s")));
        }
        if caches > 0 {
            parts.push(format!("package caches left by {caches} layer{}", crate::text::plural(caches, "", "s")));
        }
        let mut e = if parts.is_empty() {
            Evaluation::pass(format!("{} history steps and the final files show no fault", ctx.image.history.len()))
        } else {
            Evaluation::fail(parts.join("; "))
        };
        if hidden > 0 {
            e.description.push_str(&format!(
                " ({hidden} cleaned cache{} in lower layers)",
                crate::text::plural(hidden, "", "s")
            ));
        }
        e.findings = findings;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(created_by: &str) -> Vec<&'static str> {
        step_findings(created_by).into_iter().map(|(w, _)| w).collect()
    }

    const UPDATE: &str = "package index refreshed without an install in the same step";
    const UPGRADE: &str = "packages of the base image upgraded in the image";
    const PIPE: &str = "a download piped into a shell";

    #[test]
    fn created_by_forms() {
        assert_eq!(parse_step("/bin/sh -c apt-get update"), Step::Run("apt-get update".into()));
        assert_eq!(parse_step("|2 A=x B=y /bin/sh -c make"), Step::Run("make".into()));
        assert_eq!(parse_step("|1 ARG=x /bin/sh -c make"), Step::Run("make".into()));
        assert_eq!(parse_step("/bin/sh -c #(nop) ADD file:abc in / "), Step::Instruction("ADD", "file:abc in /"));
        assert_eq!(parse_step("ADD https://x/y.tgz in /opt"), Step::Instruction("ADD", "https://x/y.tgz in /opt"));
        assert_eq!(parse_step("COPY file:ab12 in /"), Step::Instruction("COPY", "file:ab12 in /"));
        assert_eq!(parse_step("RUN /bin/sh -c apt-get update # buildkit"), Step::Run("apt-get update".into()));
        assert_eq!(parse_step(r#"["apt-get","update"]"#), Step::Run("apt-get update".into()));
        assert_eq!(parse_step(""), Step::Instruction("", ""));
        assert_eq!(parse_step("RUN apt-get update"), Step::Run("apt-get update".into()));
        assert_eq!(parse_step("|x /bin/sh -c a"), Step::Instruction("|x", "/bin/sh -c a"));
        // A count larger than the assignments eats words, never panics.
        assert_eq!(parse_step("|3 A=1 /bin/sh -c a"), Step::Instruction("a", ""));
    }

    #[test]
    fn the_created_by_table() {
        let table: &[(&str, &[&str])] = &[
            // buildah / podman build
            ("/bin/sh -c apt-get update", &[UPDATE]),
            ("/bin/sh -c apt-get update && apt-get install -y curl", &[]),
            ("/bin/sh -c apt update; apt install -y curl", &[]),
            ("/bin/sh -c apt-get -y update", &[UPDATE]),
            ("/bin/sh -c apt-get update -qq", &[UPDATE]),
            ("/bin/sh -c apt-get -o Acquire::Retries=3 update || true", &[UPDATE]),
            ("/bin/sh -c DEBIAN_FRONTEND=noninteractive sudo -E apt-get update", &[UPDATE]),
            ("/bin/sh -c apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates", &[]),
            ("|1 VERSION=1.2 /bin/sh -c apt-get update && apt-get upgrade -y", &[UPGRADE]),
            ("/bin/sh -c apt-get dist-upgrade -y", &[UPGRADE]),
            ("/bin/sh -c apt full-upgrade", &[UPGRADE]),
            ("/bin/sh -c apk update", &[UPDATE]),
            ("/bin/sh -c apk update && apk add curl", &[]),
            ("/bin/sh -c apk add --no-cache curl", &[]),
            ("/bin/sh -c apk upgrade --no-cache", &[UPGRADE]),
            ("/bin/sh -c dnf -y upgrade", &[UPGRADE]),
            ("/bin/sh -c yum update -y && yum clean all", &[UPGRADE]),
            ("/bin/sh -c dnf install -y gcc", &[]),
            ("/bin/sh -c curl -fsSL https://get.example.com | sh", &[PIPE]),
            ("/bin/sh -c curl -fsSL https://x | sudo sh -s -- --yes", &[PIPE]),
            ("/bin/sh -c wget -qO- https://x | /bin/bash", &[PIPE]),
            ("/bin/sh -c curl -s https://x | tee /tmp/i | zsh", &[PIPE]),
            ("/bin/sh -c curl -o /tmp/i.sh https://x && sh /tmp/i.sh", &[]),
            ("/bin/sh -c sh -c \"$(curl -fsSL https://x)\"", &["a download run by a shell"]),
            ("/bin/sh -c echo 'apt-get update' | grep apt", &[]),
            ("/bin/sh -c echo \"curl x | sh\"", &[]),
            ("/bin/sh -c echo apt-get update", &[]),
            ("/bin/sh -c curl -fsSL https://x 2>&1 | bash", &[PIPE]),
            ("/bin/sh -c bash <(wget -qO- https://x)", &["a download run by a shell"]),
            ("/bin/sh -c if true; then apt-get update; fi", &[UPDATE]),
            ("/bin/sh -c { apt-get update; } && echo ${HOME}", &[UPDATE]),
            ("/bin/sh -c apt-get update >/dev/null 2>&1 && apt-get install -y x &>/dev/null", &[]),
            // Docker (classic builder)
            ("/bin/sh -c #(nop) ADD file:4f5a9b in / ", &[]),
            ("/bin/sh -c #(nop) ADD https://example.com/app.tgz /opt/", &["ADD of a remote URL"]),
            ("/bin/sh -c #(nop)  CMD [\"bash\"]", &[]),
            // buildah records ADD with its source
            ("ADD https://example.com/app.tgz in /opt", &["ADD of a remote URL"]),
            ("COPY file:0123abcd in /", &[]),
            ("ADD dir:0123abcd in /", &[]),
            // BuildKit
            ("RUN /bin/sh -c apt-get update # buildkit", &[UPDATE]),
            ("ADD https://example.com/x.tgz / # buildkit", &["ADD of a remote URL"]),
            ("", &[]),
        ];
        for (created_by, want) in table {
            assert_eq!(whats(created_by), *want, "{created_by:?}");
        }
    }

    #[test]
    fn notes_quote_the_offending_part() {
        let f = step_findings("/bin/sh -c set -e; apt-get update -qq ; echo done");
        assert_eq!(f, vec![(UPDATE, "apt-get update -qq".to_string())]);
        let f = step_findings("/bin/sh -c cd /tmp && curl -sSL https://x/i.sh | sudo bash -s -- -y && rm -rf /tmp/x");
        assert_eq!(f, vec![(PIPE, "curl -sSL https://x/i.sh | sudo bash -s -- -y".to_string())]);
    }

    #[test]
    fn hostile_scripts_never_panic() {
        for s in [
            "/bin/sh -c 'unterminated",
            "/bin/sh -c \"unterminated \\",
            "/bin/sh -c $(curl x | sh",
            "/bin/sh -c \\",
            "/bin/sh -c é\\é && ü | ñ ; \u{202e}curl x|sh",
            "/bin/sh -c ))))((((&&&&||||;;;;",
            "/bin/sh -c <(<(<(",
            "|99999999999999999999999 A=1",
            "/bin/sh -c #(nop)",
            "RUN ",
            "[\"curl x\", \"|\", \"sh\"]",
        ] {
            let _ = step_findings(s);
        }
        let f = step_findings("/bin/sh -c é && curl x | sh");
        assert_eq!(f, vec![(PIPE, "curl x | sh".to_string())]);
    }

    #[test]
    fn quotes_are_shortened_and_escaped() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "abcde…");
        assert_eq!(shorten("a\x1b[31mb", 50), "a\\x1b[31mb");
        assert_eq!(shorten("ééééé", 2), "éé…");
    }
}
