//! "Present as a tool": what privilege-tools, remote-access-tools and compilers share.
//!
//! A tool is an executable regular file, or a symlink that resolves inside the image to
//! one, whose name matches and which sits in a directory of the image's PATH or a standard
//! bin/sbin directory. The same name elsewhere is not a tool; an executable match outside
//! PATH is listed as information.
//!
//! An installed package of the check's kind (its package list) fails the check too,
//! whatever its files are called or wherever they are: one config-style finding per
//! package, `package NAME VERSION (ARCH, eco) installed`. The databases are image content:
//! without a readable one the file verdict stands alone and the description says why.

use super::context::Context;
use super::rule::Evaluation;
use crate::layers::Loc;
use crate::model::EntryKind;
use crate::model::Finding;
use crate::model::Status;
use crate::packages::DbStatus;

/// CPU names that start a GNU target triplet (x86_64-linux-gnu-gcc).
const TRIPLET_ARCHES: &[&[u8]] = &[
    b"x86_64",
    b"i386",
    b"i486",
    b"i586",
    b"i686",
    b"aarch64",
    b"aarch64_be",
    b"arm",
    b"armeb",
    b"armel",
    b"armhf",
    b"armv5",
    b"armv6",
    b"armv7",
    b"armv7l",
    b"armv8",
    b"mips",
    b"mipsel",
    b"mips64",
    b"mips64el",
    b"mipsisa32r6",
    b"mipsisa32r6el",
    b"mipsisa64r6",
    b"mipsisa64r6el",
    b"powerpc",
    b"powerpc64",
    b"powerpc64le",
    b"ppc64",
    b"ppc64le",
    b"riscv32",
    b"riscv64",
    b"s390",
    b"s390x",
    b"sparc",
    b"sparc64",
    b"alpha",
    b"hppa",
    b"ia64",
    b"m68k",
    b"sh4",
    b"loongarch64",
    b"avr",
    b"xtensa",
    b"or1k",
    b"nios2",
    b"microblaze",
    b"csky",
    b"arc",
    b"bpf",
    b"wasm32",
];

/// Calls `f` with each shorter form of `name` a versioned or cross compiler can take:
/// `gcc-12` → `gcc`; `x86_64-linux-gnu-gcc-12` → `x86_64-linux-gnu-gcc`, `gcc-12`, `gcc`.
/// A bounded number of forms per name, whatever the size of the lists.
pub fn versioned_forms(name: &[u8], mut f: impl FnMut(&[u8])) {
    let unversioned = strip_version(name);
    if let Some(u) = unversioned {
        f(u);
    }
    let mut parts = name.splitn(2, |&b| b == b'-');
    let (Some(arch), Some(_)) = (parts.next(), parts.next()) else { return };
    if !TRIPLET_ARCHES.contains(&arch) {
        return;
    }
    // Triplets have a vendor/OS part of two or three words after the CPU.
    for words in [3usize, 4] {
        let mut dashes = 0;
        let cut = name.iter().position(|&b| {
            if b == b'-' {
                dashes += 1;
            }
            dashes == words
        });
        if let Some(i) = cut {
            let rest = &name[i + 1..];
            if !rest.is_empty() {
                f(rest);
                if let Some(u) = strip_version(rest) {
                    f(u);
                }
            }
        }
    }
}

/// `gcc-12` → `gcc`, `clang-14.0` → `clang`.
fn strip_version(name: &[u8]) -> Option<&[u8]> {
    let dash = name.iter().rposition(|&b| b == b'-')?;
    let (base, ver) = (&name[..dash], &name[dash + 1..]);
    let is_version = !ver.is_empty()
        && ver[0].is_ascii_digit()
        && ver.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && !ver.ends_with(b".");
    (is_version && !base.is_empty()).then_some(base)
}

/// Evaluate a tool rule from the walk's name matches and the installed packages.
/// `noun`: (singular, plural), e.g. ("compiler", "compilers"); `packages`: the check's
/// package-name globs.
pub fn evaluate(ctx: &Context, hits: &[Loc], noun: (&str, &str), packages: &[String]) -> Evaluation {
    let dirs = ctx.tool_dirs();
    let mut findings: Vec<Finding> = Vec::new();
    let mut in_path = 0usize;
    for &loc in hits {
        let e = ctx.fs.entry(loc);
        if !ctx.fs.is_visible(loc) {
            // Still shipped in the layer blob: report it, but the verdict rests on the final image.
            if e.is_executable() || e.kind == EntryKind::Symlink {
                findings.push(ctx.finding(loc, false, None));
            }
            continue;
        }
        let target_note = match e.kind {
            EntryKind::File if e.is_executable() => None,
            EntryKind::Symlink => match ctx.fs.resolve(&e.path, true) {
                Ok((target, t)) if ctx.fs.entry(t).is_executable() => {
                    Some(format!("resolves to {}", crate::escape::bytes(&target)))
                }
                // A dangling link or one to a non-executable is not a usable tool.
                _ => continue,
            },
            _ => continue,
        };
        let on_path = dirs.contains(e.dir());
        if on_path {
            in_path += 1;
            findings.push(ctx.finding(loc, true, target_note));
        } else {
            let note = match target_note {
                Some(n) => format!("executable outside PATH; {n}"),
                None => "executable outside PATH".to_string(),
            };
            findings.push(ctx.finding(loc, false, Some(note)));
        }
    }
    let (package_findings, package_names, unchecked) = package_findings(ctx, packages);
    findings.extend(package_findings);
    sort_findings(&mut findings);
    let names = distinct_names(&findings);
    let mut parts = Vec::new();
    if in_path > 0 {
        let n = if in_path == 1 { noun.0 } else { noun.1 };
        parts.push(format!("{in_path} {n} on PATH: {}", names.join(", ")));
    }
    if !package_names.is_empty() {
        let word = if package_names.len() == 1 { "package" } else { "packages" };
        parts.push(format!("{word} {} installed", package_names.join(", ")));
    }
    let status = if parts.is_empty() { Status::Pass } else { Status::Fail };
    if in_path == 0 {
        let extra = findings.iter().filter(|f| !f.violation).count();
        parts.insert(
            0,
            match extra {
                0 => format!("no {} on PATH", noun.1),
                _ => format!(
                    "no {} on PATH ({extra} other match{} listed for information)",
                    noun.1,
                    if extra == 1 { "" } else { "es" }
                ),
            },
        );
    }
    match unchecked {
        Some(why) => parts.push(why),
        None if package_names.is_empty() => parts.push(format!("no {} package installed", noun.0)),
        None => {}
    }
    Evaluation { status, description: parts.join("; "), findings }
}

/// Files of one package finding's note.
const NOTE_FILES: usize = 8;

/// One violation per installed package whose name the list matches, the names for the
/// description, and why the databases could not be used when none was.
fn package_findings(ctx: &Context, list: &[String]) -> (Vec<Finding>, Vec<String>, Option<String>) {
    let dbs = &ctx.packages().dbs;
    let mut findings = Vec::new();
    let mut names = Vec::new();
    let mut unreadable = Vec::new();
    let mut found = false;
    for (_, status) in dbs {
        let db = match status {
            DbStatus::Found(db) => db,
            DbStatus::Absent => continue,
            DbStatus::Unreadable { path, reason } => {
                unreadable.push(format!(
                    "{} could not be read ({})",
                    crate::escape::text(path),
                    crate::escape::text(reason)
                ));
                continue;
            }
        };
        found = true;
        for p in db.packages.iter().filter(|p| super::settings::package_listed(list, &p.name)) {
            let location = match p.arch.is_empty() {
                true => format!("package {} {} ({}) installed", p.name, p.version, p.ecosystem.as_str()),
                false => format!("package {} {} ({}, {}) installed", p.name, p.version, p.arch, p.ecosystem.as_str()),
            };
            let mut f = ctx.config_finding(&location, installed_by(ctx, p), true, Some(files_note(ctx, p)));
            f.package = Some(crate::model::PackageRef {
                name: crate::escape::text(&p.name),
                version: crate::escape::text(&p.version),
                arch: crate::escape::text(&p.arch),
                ecosystem: p.ecosystem.as_str().to_string(),
            });
            f.fix = crate::packages::image::remove_command(p);
            names.push(crate::escape::text(&p.name));
            findings.push(f);
        }
    }
    names.sort();
    names.dedup();
    let unchecked = match (found, dbs.is_empty()) {
        (true, _) if unreadable.is_empty() => None,
        // Checked what could be read; still say what could not.
        (true, _) => Some(format!("package lists checked only partly: {}", unreadable.join("; "))),
        (false, true) => Some("package lists not checked: the package databases were not read".to_string()),
        (false, false) if unreadable.is_empty() => {
            Some("package lists not checked: no package database found".to_string())
        }
        (false, false) => Some(format!("package lists not checked: {}", unreadable.join("; "))),
    };
    (findings, names, unchecked)
}

/// The layer that installed a package. dpkg: the one that wrote its `info/NAME.list` (dpkg
/// writes it on install and upgrade) or distroless `status.d/NAME`. apk and rpm keep one
/// database file for every package, so there: the lowest layer that holds one of its files
/// as the final image has them (a later layer that changes one file did not install it). 0
/// when none of its files is in the image.
fn installed_by(ctx: &Context, p: &crate::packages::Package) -> usize {
    let number = |loc: Loc| ctx.fs.layers[loc.layer as usize].source.number;
    if p.ecosystem == crate::packages::Ecosystem::Deb && !p.name.contains('/') && !p.arch.contains('/') {
        let candidates = [
            format!("/var/lib/dpkg/info/{}.list", p.name),
            format!("/var/lib/dpkg/info/{}:{}.list", p.name, p.arch),
            format!("/var/lib/dpkg/status.d/{}", p.name),
        ];
        if let Some((_, loc)) = candidates.iter().find_map(|c| ctx.fs.resolve(c.as_bytes(), true).ok()) {
            return number(loc);
        }
    }
    p.files
        .iter()
        .filter_map(|path| ctx.fs.resolve(path, false).ok())
        .filter(|(_, loc)| ctx.fs.entry(*loc).kind != EntryKind::Dir)
        .map(|(_, loc)| number(loc))
        .min()
        .unwrap_or(0)
}

/// What the package put in the final image: its files that are there (not directories),
/// executables first, the first `NOTE_FILES` then how many more.
fn files_note(ctx: &Context, p: &crate::packages::Package) -> String {
    let mut files: Vec<(bool, String)> = Vec::new();
    for path in &p.files {
        let Ok((canonical, loc)) = ctx.fs.resolve(path, false) else { continue };
        let e = ctx.fs.entry(loc);
        if e.kind == EntryKind::Dir {
            continue;
        }
        let executable = e.kind == EntryKind::File && e.is_executable();
        files.push((!executable, crate::escape::bytes(&canonical)));
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return "none of its files is in the image".to_string();
    }
    let shown: Vec<&str> = files.iter().take(NOTE_FILES).map(|(_, f)| f.as_str()).collect();
    let mut note = format!("installs {}", shown.join(", "));
    if files.len() > NOTE_FILES {
        note.push_str(&format!(" and {} more", files.len() - NOTE_FILES));
    }
    note
}

pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| (b.violation, a.layer, &a.path).cmp(&(a.violation, b.layer, &b.path)));
}

fn distinct_names(findings: &[Finding]) -> Vec<String> {
    let mut names: Vec<String> = findings
        .iter()
        .filter(|f| f.violation && f.kind != EntryKind::Config)
        .map(|f| f.path.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(n: &str) -> Vec<String> {
        let mut v = Vec::new();
        versioned_forms(n.as_bytes(), |f| v.push(String::from_utf8_lossy(f).into_owned()));
        v
    }

    #[test]
    fn versioned_and_cross_forms() {
        assert_eq!(forms("gcc-12"), ["gcc"]);
        assert!(forms("x86_64-linux-gnu-gcc-12").contains(&"gcc".to_string()));
        assert!(forms("x86_64-pc-linux-gnu-gcc").contains(&"gcc".to_string()));
        assert!(forms("arm-linux-gnueabihf-g++-12").contains(&"g++".to_string()));
        assert!(forms("x86_64-linux-gnu-as").contains(&"as".to_string()));
        assert!(forms("clang-14.0").contains(&"clang".to_string()));
    }

    #[test]
    fn ordinary_names_do_not_shrink_into_compilers() {
        assert!(forms("cc1").is_empty());
        assert!(forms("gcc-ar-12").iter().all(|f| f != "gcc"));
        assert!(forms("my-go").is_empty());
        assert!(forms("python3.11").is_empty());
        assert!(forms("git-as").is_empty());
    }
}
