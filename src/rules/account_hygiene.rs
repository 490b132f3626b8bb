use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::etc_files::Password;
use crate::layers::Loc;
use crate::model::{Finding, Severity, Status};
use std::collections::BTreeMap;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "account-hygiene",
    title: "Account files are sound",
    severity: Severity::High,
    rationale: "The image's account files decide who a process is and who may become whom. An account \
        with an empty password and a login shell lets anything that can run su or login in the \
        container become it without a password; a second uid 0 account is a root account under \
        another name that reviews miss; two accounts or groups sharing an id make file ownership and \
        audit logs ambiguous; members of a gid 0 group get root's group access to every \
        root-group-writable file. The password comes from /etc/shadow, or from /etc/passwd when \
        shadow has no entry for the account; `!`, `*` and hashes behind them are locked, not empty. \
        A login shell is any shell but nologin, false and sync (an empty shell field is /bin/sh).",
    remediation: "Lock accounts that need no password login (`passwd -l NAME`, or `*` in \
        /etc/shadow) or give them `/usr/sbin/nologin`; remove extra uid 0 accounts and give every \
        account and group its own id; remove members from gid 0 groups (`gpasswd -d USER root`).",
    reads_layers: true,
    controls: &["NIST SP 800-190 4.1.2"],
};

/// Shells that give no interactive session; an empty field is not one of them (login(1)
/// then runs /bin/sh).
const NO_LOGIN_SHELLS: &[&str] = &[
    "/usr/sbin/nologin",
    "/sbin/nologin",
    "/usr/bin/nologin",
    "/bin/nologin",
    "/bin/false",
    "/usr/bin/false",
    "/bin/sync",
    "/usr/bin/sync",
];

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { files: super::accounts::FILES, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let (passwd, shadow, group) = match (ctx.passwd(), ctx.shadow(), ctx.group()) {
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Evaluation::error(e.clone()),
            (Ok(p), Ok(s), Ok(g)) => (p.as_deref(), s.as_deref(), g.as_deref()),
        };
        let mut findings = Vec::new();
        let mut checked = Vec::new();
        // Each finding names the account file and the layer that wrote it (through links).
        let layer_of =
            |path: &str| ctx.fs.resolve(path.as_bytes(), true).map(|(_, l)| l.layer as usize + 1).unwrap_or(0);
        let mut add = |file: &str, what: &str, name: &str, violation: bool, note: String| {
            let location = format!("{file}: {what} {name}");
            findings.push(ctx.config_finding(&location, layer_of(file), violation, Some(crate::escape::text(&note))));
        };

        match passwd {
            None => checked.push("no /etc/passwd (no accounts to check)".to_string()),
            Some(accounts) => {
                checked.push(format!("{} accounts in /etc/passwd", accounts.len()));
                match shadow {
                    Some(s) => checked.push(format!("{} entries in /etc/shadow", s.len())),
                    None => checked.push("no /etc/shadow".into()),
                }
                for a in accounts {
                    let (password, source) = match shadow.and_then(|s| s.iter().find(|e| e.name == a.name)) {
                        Some(e) => (e.password, "/etc/shadow"),
                        None => (a.password, "/etc/passwd"),
                    };
                    if password != Password::Empty {
                        continue;
                    }
                    let shell = if a.shell.is_empty() { "/bin/sh" } else { a.shell.as_str() };
                    let login = !NO_LOGIN_SHELLS.contains(&shell);
                    let note = if login {
                        format!("empty password in {source} and login shell {shell}")
                    } else {
                        format!("empty password in {source}, but shell {shell} gives no login")
                    };
                    add(source, "account", &a.name, login, note);
                }
                let mut by_uid: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
                for a in accounts {
                    by_uid.entry(a.uid).or_default().push(&a.name);
                }
                for (uid, names) in &by_uid {
                    let (keeper, others) = sharers(names);
                    for n in others {
                        let note = if *uid == 0 {
                            format!("a second uid 0 account: {n} is root under another name ({keeper} is uid 0)")
                        } else {
                            format!("uid {uid} is also {keeper}'s")
                        };
                        add("/etc/passwd", "account", n, true, note);
                    }
                }
            }
        }
        match group {
            None => checked.push("no /etc/group".into()),
            Some(groups) => {
                checked.push(format!("{} groups in /etc/group", groups.len()));
                let mut by_gid: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
                for g in groups {
                    by_gid.entry(g.gid).or_default().push(&g.name);
                }
                for (gid, names) in &by_gid {
                    let (keeper, others) = sharers(names);
                    for n in others {
                        add("/etc/group", "group", n, true, format!("gid {gid} is also group {keeper}'s"));
                    }
                }
                for g in groups.iter().filter(|g| g.gid == 0) {
                    let others: Vec<&str> = g.members.iter().map(String::as_str).filter(|m| *m != "root").collect();
                    if !others.is_empty() {
                        let note = format!("gid 0 group with members {}", others.join(", "));
                        add("/etc/group", "group", &g.name, true, note);
                    }
                }
            }
        }
        finish(findings, checked)
    }
}

/// Of the names sharing one id, the one that keeps it (root if there, else the first
/// listed) and the others, each a finding.
fn sharers<'n>(names: &[&'n str]) -> (&'n str, Vec<&'n str>) {
    let keep = names.iter().position(|n| *n == "root").unwrap_or(0);
    let others = names.iter().enumerate().filter(|(i, _)| *i != keep).map(|(_, n)| *n).collect();
    (names[keep], others)
}

fn finish(mut findings: Vec<Finding>, checked: Vec<String>) -> Evaluation {
    super::tools::sort_findings(&mut findings);
    let failing = findings.iter().filter(|f| f.violation).count();
    let checked = checked.join(", ");
    match failing {
        0 => Evaluation { status: Status::Pass, description: format!("no problem found: {checked}"), findings },
        1 => Evaluation { status: Status::Fail, description: format!("1 problem in {checked}"), findings },
        n => Evaluation { status: Status::Fail, description: format!("{n} problems in {checked}"), findings },
    }
}
