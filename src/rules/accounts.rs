//! Who the container runs as: the image's USER resolved the way runtimes do, against the
//! image's own /etc/passwd and /etc/group.

use super::context::Context;
use super::rule::Evaluation;
use crate::etc_files::id;

/// The account files USER is resolved against, and /etc/shadow for account-hygiene.
pub const FILES: &[&str] = &["/etc/passwd", "/etc/group", "/etc/shadow"];

/// The effective user and group of the image's USER setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// What USER says, for messages.
    pub user_spec: String,
    pub uid: Resolved,
    pub gid: Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Id {
        id: u32,
        how: String,
    },
    /// The name does not exist in the image: the container would not start.
    Missing(String),
    /// A file needed to decide could not be read.
    Unknown(String),
}

pub fn identity(ctx: &Context) -> Identity {
    let spec = ctx.image.config.user.trim().to_string();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (spec.clone(), None),
    };
    // USER and the names in the image's account files are image-controlled: every message
    // shows them escaped, as the console prints descriptions as they are.
    let shown = crate::escape::text(&user);
    let passwd = ctx.passwd();
    let uid: Resolved;
    let mut passwd_gid: Option<(u32, String)> = None;
    if user.is_empty() {
        uid = Resolved::Id { id: 0, how: "USER is not set, so the container runs as root".into() };
        passwd_gid = Some((0, "root's default group".into()));
    } else if let Some(n) = id(&user) {
        uid = Resolved::Id { id: n, how: format!("USER {shown} is uid {n}") };
        if let Ok(Some(entries)) = passwd {
            if let Some(e) = entries.iter().find(|e| e.uid == n) {
                let name = crate::escape::text(&e.name);
                passwd_gid = Some((e.gid, format!("the primary group of uid {n} ({name}) in /etc/passwd")));
            }
        }
        if passwd_gid.is_none() && group.is_none() {
            match passwd {
                Err(e) => return unknown(spec, e),
                _ => passwd_gid = Some((0, format!("uid {n} has no /etc/passwd entry, so runtimes use gid 0"))),
            }
        }
    } else {
        match passwd {
            Err(e) => return unknown(spec, e),
            Ok(None) => uid = Resolved::Missing(format!("USER {shown} is a name but the image has no /etc/passwd")),
            Ok(Some(entries)) => match entries.iter().find(|e| e.name == user) {
                Some(e) => {
                    uid = Resolved::Id { id: e.uid, how: format!("USER {shown} resolves to uid {}", e.uid) };
                    passwd_gid = Some((e.gid, format!("the primary group of {shown} in /etc/passwd")));
                }
                None => uid = Resolved::Missing(format!("USER {shown} is not in the image's /etc/passwd")),
            },
        }
        // A missing user is root-user's failure; an explicit group is still judged on its own.
        if let Resolved::Missing(why) = &uid {
            if group.as_deref().unwrap_or("").is_empty() {
                return Identity { user_spec: spec, uid: uid.clone(), gid: Resolved::Missing(why.clone()) };
            }
        }
    }
    let gid = match group.as_deref() {
        None | Some("") => match passwd_gid {
            Some((g, how)) => Resolved::Id { id: g, how },
            None => Resolved::Unknown("no group could be determined".into()),
        },
        Some(g) => {
            let shown_g = crate::escape::text(g);
            match id(g) {
                Some(n) => Resolved::Id { id: n, how: format!("group {shown_g} is gid {n}") },
                None => match ctx.group() {
                    Err(e) => Resolved::Unknown(e.clone()),
                    Ok(None) => Resolved::Missing(format!("group {shown_g} is a name but the image has no /etc/group")),
                    Ok(Some(groups)) => match groups.iter().find(|e| e.name == g) {
                        Some(e) => {
                            Resolved::Id { id: e.gid, how: format!("group {shown_g} resolves to gid {}", e.gid) }
                        }
                        None => Resolved::Missing(format!("group {shown_g} is not in the image's /etc/group")),
                    },
                },
            }
        }
    };
    Identity { user_spec: spec, uid, gid }
}

fn unknown(spec: String, why: &str) -> Identity {
    Identity { user_spec: spec, uid: Resolved::Unknown(why.to_string()), gid: Resolved::Unknown(why.to_string()) }
}

/// The verdict on a resolved id: `what` is "uid" or "gid"; id 0 fails, a name the image does
/// not define fails (the container would not start), an unreadable file is an error.
pub fn verdict(resolved: Resolved, what: &str, user_spec: &str) -> Evaluation {
    match resolved {
        Resolved::Id { id: 0, how } => Evaluation::fail(format!("{how}: {what} 0 (root)")),
        Resolved::Id { id, how } if how.ends_with(&format!("{what} {id}")) => Evaluation::pass(how),
        Resolved::Id { id, how } => Evaluation::pass(format!("{how}: {what} {id}")),
        Resolved::Missing(why) => Evaluation::fail(format!("{why}: the container would not start")),
        Resolved::Unknown(why) => Evaluation::error(format!("cannot resolve the {what} of USER {user_spec:?}: {why}")),
    }
}
