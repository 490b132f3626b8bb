use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{Severity, Status};

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "file-capabilities",
    title: "No file capabilities",
    severity: Severity::High,
    rationale: "A `security.capability` xattr grants an executable Linux capabilities whoever runs \
        it, as setuid does but finer: `cap_net_raw` lets any user forge packets, `cap_sys_admin` is \
        close to root, `cap_setuid` is root. A non-root container user who can run such a file gets \
        those capabilities within what the runtime allows. Only executable regular files are \
        considered (a capability takes effect on exec). Files deleted by a later layer are listed \
        for information; a malformed xattr still fails.",
    remediation: "Remove the capability in the build (`setcap -r FILE`), or grant what the \
        process needs at run time (`--cap-add`) instead of baking it into the image.",
    reads_layers: true,
    controls: &[
        "NIST SP 800-190 4.1.2",
        "DISA CIDG V2R0.6 essential-capabilities",
        "DISA CIDG V2R0.6 no-escalation-permissions",
    ],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { capabilities: true, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let mut findings = Vec::new();
        let mut failing = 0;
        for (layer, l) in ctx.fs.layers.iter().enumerate() {
            for (idx, value) in &l.scan.capabilities {
                let loc = Loc { layer: layer as u16, idx: *idx };
                if !ctx.fs.entry(loc).is_executable() {
                    continue;
                }
                let visible = ctx.fs.is_visible(loc);
                failing += usize::from(visible);
                findings.push(ctx.finding(loc, visible, Some(describe(value))));
            }
        }
        super::tools::sort_findings(&mut findings);
        let hidden = findings.iter().filter(|f| !f.visible).count();
        let mut description = match failing {
            0 => "no file with capabilities in the final image".to_string(),
            1 => "1 file with capabilities".to_string(),
            n => format!("{n} files with capabilities"),
        };
        if hidden > 0 {
            description.push_str(&format!(" ({hidden} more in layers but not in the final image)"));
        }
        let status = if failing > 0 { Status::Fail } else { Status::Pass };
        Evaluation { status, description, findings }
    }
}

/// The capability names of bits 0..=40, in kernel order.
const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

const FLAG_EFFECTIVE: u32 = 0x0000_0001;

/// A raw `security.capability` value as a note: libcap's text form (`cap_net_raw+ep`), or
/// what is wrong with it. The value is image-controlled: any bytes give a sentence.
pub fn describe(value: &[u8]) -> String {
    match decode(value) {
        Ok((text, Some(rootid))) if rootid != 0 => {
            format!("{text} (for the user namespace whose root is host uid {rootid})")
        }
        Ok((text, _)) => text,
        Err(why) => format!("malformed security.capability xattr: {why}"),
    }
}

/// (libcap text, v3 rootid) of a VFS capability xattr: revision 1 (12 bytes), 2 (20 bytes)
/// or 3 (24 bytes, with the uid of the user namespace root it applies to).
pub fn decode(value: &[u8]) -> Result<(String, Option<u32>), String> {
    if value.is_empty() {
        return Err("no value could be read (empty, or set for another user namespace's root)".into());
    }
    let word = |i: usize| value.get(4 * i..4 * i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let magic = word(0).ok_or_else(|| format!("{} bytes", value.len()))?;
    let (want, words, rootid) = match magic >> 24 {
        1 => (12, 1, false),
        2 => (20, 2, false),
        3 => (24, 2, true),
        r => return Err(format!("unknown revision {r} ({} bytes)", value.len())),
    };
    if value.len() != want {
        return Err(format!("revision {} is {want} bytes, this one has {}", magic >> 24, value.len()));
    }
    if magic & 0x00ff_fffe != 0 {
        return Err(format!("unknown flags {:#x}", magic & 0x00ff_ffff));
    }
    let (mut permitted, mut inheritable) = (0u64, 0u64);
    for w in 0..words {
        permitted |= u64::from(word(1 + 2 * w).unwrap_or(0)) << (32 * w);
        inheritable |= u64::from(word(2 + 2 * w).unwrap_or(0)) << (32 * w);
    }
    let effective = magic & FLAG_EFFECTIVE != 0;
    let rootid = rootid.then(|| word(5).unwrap_or(0));
    Ok((text(permitted, inheritable, effective), rootid))
}

/// libcap's `cap_to_text` for a file: capabilities with the same flags joined by commas,
/// one clause per flag set in order of its lowest capability (`cap_a,cap_b+ep cap_c+i`).
/// With the effective flag a file's effective set is everything permitted or inherited.
fn text(permitted: u64, inheritable: u64, effective: bool) -> String {
    let mut clauses: Vec<(String, Vec<String>)> = Vec::new();
    for bit in 0..64 {
        let (p, i) = (permitted >> bit & 1 == 1, inheritable >> bit & 1 == 1);
        if !p && !i {
            continue;
        }
        let flags =
            format!("{}{}{}", if effective { "e" } else { "" }, if i { "i" } else { "" }, if p { "p" } else { "" });
        let name = match NAMES.get(bit) {
            Some(n) => format!("cap_{n}"),
            None => format!("cap_{bit}"),
        };
        match clauses.iter_mut().find(|(f, _)| *f == flags) {
            Some((_, names)) => names.push(name),
            None => clauses.push((flags, vec![name])),
        }
    }
    if clauses.is_empty() {
        return "an empty capability set".into();
    }
    clauses.iter().map(|(flags, names)| format!("{}+{flags}", names.join(","))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(magic: u32, p: [u32; 2], i: [u32; 2]) -> Vec<u8> {
        [magic, p[0], i[0], p[1], i[1]].iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn revisions_flags_and_unknown_bits() {
        let raw = 1 << 13;
        assert_eq!(decode(&v2(0x0200_0001, [raw, 0], [0, 0])).unwrap(), ("cap_net_raw+ep".into(), None));
        assert_eq!(decode(&v2(0x0200_0000, [raw, 0], [0, 0])).unwrap().0, "cap_net_raw+p");
        let both = 1 << 10 | 1 << 13;
        assert_eq!(decode(&v2(0x0200_0001, [both, 0], [both, 0])).unwrap().0, "cap_net_bind_service,cap_net_raw+eip");
        assert_eq!(
            decode(&v2(0x0200_0001, [1 << 21, 0], [1 << 12, 0])).unwrap().0,
            "cap_net_admin+ei cap_sys_admin+ep"
        );
        // Bits above 31 live in the second word; 40 is known, 41 and 63 are not.
        assert_eq!(
            decode(&v2(0x0200_0000, [0, 1 << 8 | 1 << 9 | 1 << 31], [0, 0])).unwrap().0,
            "cap_checkpoint_restore,cap_41,cap_63+p"
        );
        let mut v3 = v2(0x0300_0001, [1 << 7, 0], [0, 0]);
        v3.extend(100_000u32.to_le_bytes());
        assert_eq!(decode(&v3).unwrap(), ("cap_setuid+ep".into(), Some(100_000)));
        assert!(describe(&v3).contains("host uid 100000"));
        let v1: Vec<u8> = [0x0100_0001u32, 1, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(decode(&v1).unwrap().0, "cap_chown+ep");
        assert_eq!(decode(&v2(0x0200_0001, [0, 0], [0, 0])).unwrap().0, "an empty capability set");
    }

    #[test]
    fn malformed_values_are_sentences() {
        for (v, says) in [
            (&b""[..], "no value"),
            (b"\x01\x00", "2 bytes"),
            (b"\x01\x00\x00\x02cap", "revision 2 is 20 bytes, this one has 7"),
            (b"\x00\x00\x00\x09aaaaaaaaaaaaaaaa", "unknown revision 9"),
            (&[0u8, 0, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..], "unknown flags 0x100000"),
        ] {
            let d = describe(v);
            assert!(d.starts_with("malformed security.capability xattr") && d.contains(says), "{v:?}: {d}");
        }
    }
}
