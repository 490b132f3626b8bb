//! Report formats: golden files of every format on fixed reports, well-formedness and schema
//! checks, hostile image content, strict templates and template overrides.
//!
//! Goldens live in tests/golden/, made from the reports of `support::fixture`. After an
//! intended change, regenerate them with `UPDATE_GOLDEN=1 cargo test --test tests -- reports::`
//! and review the diff.

use crate::support::{
    all_rules, assert_valid_cyclonedx, assert_valid_report, cyclonedx_errors, fixture, summarize, BaseFoundBy,
    BaseInfo, Format, InstalledPackage, MergedSummary, Origin, PackageDbInfo, PackageRef, PackagesInfo, Renderer,
    Report, Status, Verdict,
};
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("golden {} missing ({e}); run UPDATE_GOLDEN=1 cargo test --test tests -- reports::", path.display())
    });
    if expected != actual {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-actual");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), actual).unwrap();
        let e = String::from_utf8_lossy(&expected);
        let a = String::from_utf8_lossy(actual);
        let line =
            e.lines().zip(a.lines()).position(|(x, y)| x != y).unwrap_or(e.lines().count().min(a.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             actual output written to {}; \
             if the change is intended: UPDATE_GOLDEN=1 cargo test --test tests -- reports::",
            line + 1,
            e.lines().nth(line),
            a.lines().nth(line),
            out.join(name).display()
        );
    }
}

fn renderer() -> Renderer {
    Renderer::new(None).expect("built-in templates compile")
}

fn render(f: Format, r: &Report) -> Vec<u8> {
    renderer().render(f, r).unwrap_or_else(|e| panic!("{}: {e}", f.name()))
}

fn merged() -> (MergedSummary, Vec<Report>) {
    let reports = vec![fixture::sample(), fixture::failed_scan(), fixture::passing()];
    let sources: Vec<(String, Report)> = reports
        .iter()
        .zip(["reports/app.json", "reports/broken.json", "reports/tiny.json"])
        .map(|(r, s)| (s.to_string(), r.clone()))
        .collect();
    let s = summarize(&sources, Default::default(), fixture::SCANNED_AT.to_string());
    let mut s = s;
    s.tool.version = fixture::TOOL_VERSION.to_string();
    (s, reports)
}

#[test]
fn golden_every_format_of_one_report() {
    let r = fixture::sample();
    for f in Format::ALL {
        golden(&format!("sample.{}", f.extension()), &render(f, &r));
    }
}

#[test]
fn golden_failed_scan() {
    let r = fixture::failed_scan();
    for f in [Format::Html, Format::Markdown, Format::Junit, Format::Sarif, Format::LegacyJson, Format::Codequality] {
        golden(&format!("failed-scan.{}", f.extension()), &render(f, &r));
    }
}

#[test]
fn golden_hostile() {
    let r = fixture::hostile();
    for f in [Format::Html, Format::Markdown, Format::Junit] {
        golden(&format!("hostile.{}", f.extension()), &render(f, &r));
    }
}

#[test]
fn golden_merge_every_format() {
    let (s, reports) = merged();
    for f in Format::ALL {
        let out = renderer().render_merged(f, &s, &reports).unwrap_or_else(|e| panic!("{}: {e}", f.name()));
        golden(&format!("merge.{}", f.extension()), &out);
    }
}

#[test]
fn merged_summary_follows_the_exit_code_contract() {
    let (s, _) = merged();
    // The failed pull (20) outranks the Critical failure (12).
    assert_eq!((s.verdict, s.exit_code), (Verdict::Error, 20));
    assert_eq!((s.totals.images, s.totals.passed, s.totals.failed, s.totals.errors), (3, 1, 1, 1));
    let only_policy = vec![("a".to_string(), fixture::sample()), ("b".to_string(), fixture::passing())];
    let p = summarize(&only_policy, Default::default(), String::new());
    assert_eq!((p.verdict, p.exit_code), (Verdict::Fail, 12));
    let passing = vec![("b".to_string(), fixture::passing())];
    assert_eq!(summarize(&passing, Default::default(), String::new()).exit_code, 0);
}

#[test]
fn junit_is_well_formed_xml_with_one_testcase_per_check() {
    let n = all_rules().len();
    for (r, cases) in [(fixture::sample(), n), (fixture::failed_scan(), 1), (fixture::hostile(), n)] {
        let xml = String::from_utf8(render(Format::Junit, &r)).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"));
        let testcases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(testcases.len(), cases);
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
        let failures = testcases.iter().filter(|t| t.children().any(|c| c.has_tag_name("failure"))).count();
        assert_eq!(suite.attribute("failures"), Some(failures.to_string().as_str()));
        let errors = testcases.iter().filter(|t| t.children().any(|c| c.has_tag_name("error"))).count();
        assert_eq!(suite.attribute("errors"), Some(errors.to_string().as_str()));
        let skipped = testcases.iter().filter(|t| t.children().any(|c| c.has_tag_name("skipped"))).count();
        assert_eq!(suite.attribute("skipped"), Some(skipped.to_string().as_str()));
    }
    let xml = String::from_utf8(render(Format::Junit, &fixture::sample())).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let su = doc.descendants().find(|n| n.attribute("name") == Some("suid-files")).unwrap();
    let failure = su.children().find(|c| c.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("type"), Some("critical"));
    assert!(failure.text().unwrap().contains("/usr/bin/su -rwsr-xr-x 0:0"));
    let compilers = doc.descendants().find(|n| n.attribute("name") == Some("compilers")).unwrap();
    assert!(compilers.children().any(|c| c.has_tag_name("skipped")));
}

#[test]
fn hostile_junit_keeps_its_text() {
    let xml = String::from_utf8(render(Format::Junit, &fixture::hostile())).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let su = doc.descendants().find(|n| n.attribute("name") == Some("suid-files")).unwrap();
    let failure = su.children().find(|c| c.has_tag_name("failure")).unwrap();
    // The XML parser gives back the (model-escaped) text exactly: nothing became markup.
    assert!(failure.attribute("message").unwrap().contains("/opt/<script>alert(1)</script>\\x0a\\x1b[31mred"));
    assert!(!xml.contains("<script>"));
}

fn sarif_validator() -> (boon::Schemas, boon::SchemaIndex) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/sarif-2.1.0.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler.add_resource("urn:sarif-2.1.0", schema).unwrap();
    let idx = compiler.compile("urn:sarif-2.1.0", &mut schemas).unwrap();
    (schemas, idx)
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let (schemas, idx) = sarif_validator();
    let (s, reports) = merged();
    let mut docs = vec![
        render(Format::Sarif, &fixture::sample()),
        render(Format::Sarif, &fixture::failed_scan()),
        render(Format::Sarif, &fixture::hostile()),
        renderer().render_merged(Format::Sarif, &s, &reports).unwrap(),
    ];
    // The validator must be able to say no.
    docs.push(br#"{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}"#.to_vec());
    for (i, d) in docs.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(d).unwrap();
        let result = schemas.validate(&v, idx);
        if i == docs.len() - 1 {
            assert!(result.is_err(), "a driver without a name must be rejected");
        } else if let Err(e) = result {
            panic!("SARIF document {i} is invalid: {e:#}");
        }
    }
}

#[test]
fn sarif_has_a_rule_per_check_and_a_location_per_result() {
    let v: serde_json::Value = serde_json::from_slice(&render(Format::Sarif, &fixture::sample())).unwrap();
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), all_rules().len());
    assert!(rules.iter().all(|r| !r["help"]["text"].as_str().unwrap().is_empty()));
    let results = run["results"].as_array().unwrap();
    // admin-ports-exposed, privileged-ports-exposed and too-many-layers fail without findings
    // in the fixture: image-level results.
    let image_level: Vec<_> = results.iter().filter(|r| r["locations"][0].get("physicalLocation").is_none()).collect();
    assert_eq!(image_level.len(), 3);
    let findings: usize =
        fixture::sample().checks.iter().filter(|c| c.status != Status::Skipped).map(|c| c.findings.len()).sum();
    assert_eq!(results.len(), findings + 3);
    for r in results {
        assert!(!r["locations"].as_array().unwrap().is_empty(), "{r}");
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }
    // The waived sudo is a suppressed result; the su whose waiver expired is not.
    let suppressed: Vec<_> = results.iter().filter(|r| r.get("suppressions").is_some()).collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "suid-files");
    assert_eq!(suppressed[0]["properties"]["path"], "/usr/bin/sudo");
    assert!(suppressed[0]["suppressions"][0]["justification"].as_str().unwrap().contains("TICKET-42"));
}

#[test]
fn codequality_parses_with_stable_fingerprints() {
    let a: serde_json::Value = serde_json::from_slice(&render(Format::Codequality, &fixture::sample())).unwrap();
    let issues = a.as_array().unwrap();
    // suid su (sudo is waived), privilege su+sudo (the su waiver expired), admin ports,
    // privileged ports, too many layers.
    assert_eq!(issues.len(), 6);
    assert!(!issues.iter().any(|i| i["check_name"] == "suid-files" && i["location"]["path"] == "usr/bin/sudo"));
    for i in issues {
        for key in ["description", "check_name", "fingerprint", "severity"] {
            assert!(i[key].as_str().is_some_and(|s| !s.is_empty()), "{key} in {i}");
        }
        assert!(["info", "minor", "major", "critical", "blocker"].contains(&i["severity"].as_str().unwrap()));
        assert!(i["location"]["path"].as_str().is_some());
        assert_eq!(i["location"]["lines"]["begin"], 1);
    }
    let fps: std::collections::HashSet<&str> = issues.iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fps.len(), issues.len(), "fingerprints are unique");
    // A later scan of another version of the same image: same fingerprints.
    let mut later = fixture::sample();
    later.image.tag = Some("1.5.0".into());
    later.image.reference = "registry.example.com:5000/team/app:1.5.0".into();
    later.image.digest = None;
    later.scanned_at = "2026-02-01T00:00:00Z".into();
    for c in later.checks.iter_mut() {
        for f in c.findings.iter_mut() {
            f.layer += 1;
        }
    }
    let b: serde_json::Value = serde_json::from_slice(&render(Format::Codequality, &later)).unwrap();
    let fps_b: std::collections::HashSet<&str> =
        b.as_array().unwrap().iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fps, fps_b);
    let su = issues.iter().find(|i| i["check_name"] == "suid-files" && i["location"]["path"] == "usr/bin/su").unwrap();
    assert_eq!(su["severity"], "blocker");
}

#[test]
fn json_parses_and_reads_back_identically() {
    for r in [fixture::sample(), fixture::failed_scan(), fixture::hostile(), fixture::passing()] {
        let json = render(Format::Json, &r);
        let back: Report = serde_json::from_slice(&json).unwrap();
        assert_eq!(render(Format::Json, &back), json);
        assert_eq!(back.outcome(), r.outcome());
    }
}

#[test]
fn legacy_json_layout() {
    let v: serde_json::Value = serde_json::from_slice(&render(Format::LegacyJson, &fixture::sample())).unwrap();
    let entries = v["registry.example.com:5000/team/app:1.4.2"].as_array().unwrap();
    assert_eq!(entries.len(), all_rules().len() - 1, "skipped checks are left out");
    let su = entries.iter().find(|e| e["Title"] == "No setuid files").unwrap();
    assert_eq!(su["Severity"], "Critical");
    assert_eq!(su["Pass"], false);
    let files = su["Files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let (layer, paths) = files[0].as_object().unwrap().iter().next().unwrap();
    assert!(layer.starts_with("sha256:"));
    assert_eq!(paths, &serde_json::json!(["/usr/bin/su"]), "the waived sudo is left out");
    for e in entries {
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6);
    }
    let failed: serde_json::Value =
        serde_json::from_slice(&render(Format::LegacyJson, &fixture::failed_scan())).unwrap();
    let e = &failed["registry.example.com:5000/team/broken:2.0"][0];
    assert_eq!((e["Title"].as_str(), e["Pass"].as_bool()), (Some("Scan error"), Some(false)));
}

/// No element, attribute or URL from the image survives as markup.
#[test]
fn hostile_names_render_inert_in_html() {
    let r = fixture::hostile();
    let html = String::from_utf8(render(Format::Html, &r)).unwrap();
    for bad in ["<script", "<img", "<b>root", "<a href=x", "\x1b", "\u{9b}"] {
        assert!(!html.contains(bad), "{bad:?} in HTML");
    }
    assert!(
        html.contains("<td class=\"wrap\"><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></td>"),
        "the label is shown, escaped"
    );
    assert!(html.contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"), "created_by is shown, escaped");
    // The newline of the raw label is made visible instead of being passed through.
    assert!(html.contains("\\x0aline two \\x1b[2J\\x1b[31m"));
    // No scripts at all, and a policy that would block one anyway.
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external fetches or links");
}

#[test]
fn hostile_names_render_inert_in_markdown() {
    let md = String::from_utf8(render(Format::Markdown, &fixture::hostile())).unwrap();
    assert!(!md.contains('\x1b'));
    // Outside code spans, markup characters are escaped; in code spans they are literal but inert.
    let prose: String = strip_code_spans(&md);
    for bad in ["<script", "<img", "<b>", "<a href"] {
        assert!(!prose.contains(bad), "{bad:?} in Markdown outside code spans");
    }
    assert!(
        prose
            .contains("1 setuid file: /opt/&lt;script&gt;alert\\(1\\)&lt;/script&gt;\\\\x0a\\\\x1b\\[31mred\\|\\[x\\]"),
        "shown, escaped"
    );
    assert!(!prose.contains("[x](javascript"), "no live link outside code spans");
    assert!(!prose.contains("@all"), "mentions only inside code spans");
    assert!(!prose.contains("**bold**"));
    // A raw label newline would break out of its list item: it is shown as \x0a.
    assert!(md.contains("`<script>alert(1)</script>\\x0aline two \\x1b[2J\\x1b[31m | **bold** @all`"));
    // Every table row keeps its column count.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let cells = split_cells(line);
        assert!(cells == 2 || cells == 4 || cells == 6 || cells == 7, "{cells} cells: {line}");
    }
}

/// The text outside code spans (backslash-escaped characters are text, not fences).
fn strip_code_spans(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i]);
                out.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                let run = chars[i..].iter().take_while(|&&c| c == '`').count();
                // Find the closing run of exactly the same length.
                let mut j = i + run;
                let mut close = None;
                while j < chars.len() {
                    if chars[j] == '`' {
                        let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                        if r == run {
                            close = Some(j + r);
                            break;
                        }
                        j += r;
                    } else {
                        j += 1;
                    }
                }
                match close {
                    Some(end) => i = end,
                    None => {
                        out.extend(&chars[i..i + run]);
                        i += run;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Cells of a GFM table row: `|` separators that are not escaped.
fn split_cells(line: &str) -> usize {
    let b = line.as_bytes();
    let mut n = 0;
    for i in 0..b.len() {
        if b[i] == b'|' && (i == 0 || b[i - 1] != b'\\') {
            n += 1;
        }
    }
    n - 1
}

#[test]
fn strict_mode_makes_a_missing_field_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.md.hbs"), "Image {{reference}} by {{maintainer_name}}\n").unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let err = r.render(Format::Markdown, &fixture::sample()).unwrap_err();
    assert!(err.contains("maintainer_name"), "{err}");
    assert!(err.contains(&dir.path().join("report.md.hbs").display().to_string()), "names the override file: {err}");
    // A misspelt nested field too.
    std::fs::write(dir.path().join("report.md.hbs"), "{{summary.verdikt}}\n").unwrap();
    let err = Renderer::new(Some(dir.path())).unwrap().render(Format::Markdown, &fixture::sample()).unwrap_err();
    assert!(err.contains("verdikt"), "{err}");
}

#[test]
fn an_override_replaces_exactly_one_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("html-style.hbs"), "body { background: #123456 }\n").unwrap();
    let custom = Renderer::new(Some(dir.path())).unwrap();
    let sample = fixture::sample();
    let html = String::from_utf8(custom.render(Format::Html, &sample).unwrap()).unwrap();
    assert!(html.contains("body { background: #123456 }"));
    assert!(!html.contains("--pass: #1a7f37"), "the built-in style is gone");
    assert!(html.contains("No setuid files"), "the rest of the report is the built-in one");
    // Other formats are untouched.
    assert_eq!(custom.render(Format::Markdown, &sample).unwrap(), render(Format::Markdown, &sample));
    // A translated Markdown template.
    std::fs::write(
        dir.path().join("report.md.hbs"),
        "Образ {{code reference}}: {{#if (eq summary.verdict \"fail\")}}не прошёл{{/if}}\n",
    )
    .unwrap();
    let md = Renderer::new(Some(dir.path())).unwrap().render(Format::Markdown, &sample).unwrap();
    assert_eq!(String::from_utf8(md).unwrap(), "Образ `registry.example.com:5000/team/app:1.4.2`: не прошёл\n");
}

#[test]
fn broken_or_misnamed_override_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.html.hbs"), "{{#if x}}unclosed").unwrap();
    let err = Renderer::new(Some(dir.path())).unwrap_err();
    assert!(err.contains("report.html.hbs") && err.contains("does not compile"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("reprot.html.hbs"), "x").unwrap();
    let err = Renderer::new(Some(dir.path())).unwrap_err();
    assert!(err.contains("reprot.html.hbs") && err.contains("known: report.html.hbs"), "{err}");
    // Other files are ignored.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    assert!(Renderer::new(Some(dir.path())).is_ok());
}

#[test]
fn policy_settings_and_waivers_are_shown() {
    let html = String::from_utf8(render(Format::Html, &fixture::sample())).unwrap();
    assert!(html.contains("waived: the legacy entrypoint needs sudo (TICKET-42) (until 2026-06-30)"));
    assert!(html.contains("1 violation is covered by policy waivers"));
    assert!(html.contains("(policy; default Low)"), "too-many-layers is re-rated");
    assert!(html.contains(concat!(
        "<td><code>privilege-tools</code></td><td class=\"wrap\"><code>/usr/bin/su</code></td>",
        "<td class=\"wrap\"><span class=\"muted\">any</span></td><td class=\"wrap\">temporary</td>",
        "<td>2025-12-31</td><td>expired (1)</td>"
    )));
    assert!(html.contains("release images are squashed by the promotion job"));
    let md = String::from_utf8(render(Format::Markdown, &fixture::sample())).unwrap();
    assert!(
        md.contains("*waived: the legacy entrypoint needs sudo \\(TICKET\\-42\\)")
            || md.contains("*waived: the legacy entrypoint needs sudo \\(TICKET-42\\)")
    );
    assert!(md.contains(": **unused**"));
}

#[test]
fn html_is_self_contained() {
    let html = String::from_utf8(render(Format::Html, &fixture::sample())).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("@page { size: A4"));
    assert!(html.contains("<svg class=\"chart\""));
    for external in ["<link", "<script", "@import", "url(", "src=\""] {
        assert!(!html.contains(external), "{external} in the HTML");
    }
    // Every check has its section, every layer its chart row.
    for c in &fixture::sample().checks {
        assert!(html.contains(&format!("id=\"i1-{}\"", c.id)), "{}", c.id);
    }
    assert_eq!(html.matches("<rect class=\"size\"").count(), 3);
    // The tree is nested <details>, balanced.
    assert_eq!(html.matches("<details").count(), html.matches("</details>").count());
    assert!(html.contains("<details><summary><span class=\"dn\">doc</span> <span class=\"muted\">60 files · 60 dirs"));
}

/// The published schemas accept every report and summary the fixtures make (and the golden
/// JSON files), and can say no: each of a few breakages is rejected.
#[test]
fn reports_and_summaries_match_the_published_schemas() {
    for r in [fixture::sample(), fixture::failed_scan(), fixture::hostile(), fixture::passing()] {
        crate::support::assert_valid_report(&serde_json::to_value(&r).unwrap());
    }
    let golden = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(golden_dir().join(f)).unwrap()).unwrap()
    };
    crate::support::assert_valid_report(&golden("sample.json"));
    crate::support::assert_valid_summary(&golden("merge.json"));
    let (s, _) = merged();
    crate::support::assert_valid_summary(&serde_json::to_value(&s).unwrap());

    let sample = golden("sample.json");
    type Breakage = Box<dyn Fn(&mut serde_json::Value)>;
    let broken: Vec<(&str, Breakage)> = vec![
        ("an unknown top-level field", Box::new(|v| v["surprise"] = 1.into())),
        ("an unknown field in a finding", Box::new(|v| v["checks"][8]["findings"][0]["extra"] = true.into())),
        ("a status that is not one", Box::new(|v| v["checks"][0]["status"] = "passed".into())),
        ("a missing summary exit code", Box::new(|v| drop(v["summary"].as_object_mut().unwrap().remove("exit_code")))),
        ("a layer number as a string", Box::new(|v| v["layers"][0]["number"] = "1".into())),
        ("an exit code above 255", Box::new(|v| v["summary"]["exit_code"] = 256.into())),
        ("an unknown source", Box::new(|v| v["image"]["source"] = "cache".into())),
        (
            "a file finding with a relative path",
            Box::new(|v| v["checks"][8]["findings"][0]["path"] = "usr/bin/su".into()),
        ),
    ];
    for (what, breaks) in broken {
        let mut v = sample.clone();
        breaks(&mut v);
        assert!(crate::support::report_errors(&v).is_some(), "the report schema accepted {what}");
    }
    // A report with a base boundary and a finding set aside by scope = "own".
    let mut based = fixture::sample();
    based.base = Some(BaseInfo {
        found_by: BaseFoundBy::Option,
        reference: Some("registry.example.com/base:1".into()),
        digest: None,
        layers: 3,
        note: None,
    });
    let f = based.checks.iter_mut().flat_map(|c| c.findings.iter_mut()).find(|f| f.violation && f.layer > 0);
    let f = f.expect("the sample has a violation in a layer");
    f.origin = Origin::Base;
    f.counted = false;
    let based = serde_json::to_value(&based).unwrap();
    crate::support::assert_valid_report(&based);
    let (ci, fi) = based["checks"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find_map(|(ci, c)| {
            c["findings"].as_array().unwrap().iter().position(|f| f["counted"] == false).map(|fi| (ci, fi))
        })
        .unwrap();
    let broken: Vec<(&str, Breakage)> = vec![
        ("an unknown origin", Box::new(|v| v["layers"][0]["origin"] = "mine".into())),
        ("an unknown way of finding the base", Box::new(|v| v["base"]["found_by"] = "guess".into())),
        ("base layers without a base", Box::new(|v| v["base"]["found_by"] = "none".into())),
        ("an own finding set aside", Box::new(move |v| v["checks"][ci]["findings"][fi]["origin"] = "own".into())),
        (
            "a set-aside finding that is no violation",
            Box::new(move |v| v["checks"][ci]["findings"][fi]["violation"] = false.into()),
        ),
        ("an unknown scope", Box::new(|v| v["settings"]["policy"]["checks"]["suid-files"]["scope"] = "base".into())),
    ];
    for (what, breaks) in broken {
        let mut v = based.clone();
        if v["settings"]["policy"]["checks"].get("suid-files").is_none() {
            v["settings"]["policy"]["checks"]["suid-files"] =
                serde_json::json!({"enabled": null, "severity": null, "reason": null});
        }
        crate::support::assert_valid_report(&v);
        breaks(&mut v);
        assert!(crate::support::report_errors(&v).is_some(), "the report schema accepted {what}");
    }
    let mut v = golden("merge.json");
    v["verdict"] = "maybe".into();
    assert!(crate::support::summary_errors(&v).is_some(), "the summary schema accepted a bad verdict");
}

/// The sample report with a package list, one name hostile.
fn with_packages() -> Report {
    let mut r = fixture::sample();
    let pkg = |name: &str, version: &str, purl: &str| InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source: Some("src".into()),
        ecosystem: "deb".into(),
        purl: purl.into(),
    };
    r.packages = Some(PackagesInfo {
        databases: vec![PackageDbInfo { ecosystem: "deb".into(), status: "found".into(), reason: None, count: 2 }],
        installed: vec![
            pkg("openssh-client", "1:9.2p1-2", "pkg:deb/debian/openssh-client@1%3A9.2p1-2?arch=amd64"),
            pkg("<x>\\x1b\"", "1", "pkg:deb/debian/%3Cx%3E%1B%22@1?arch=amd64"),
        ],
    });
    r
}

#[test]
fn cyclonedx_validates_against_the_1_5_schema() {
    let (s, mut reports) = merged();
    reports[0] = with_packages();
    let docs = [
        render(Format::Cyclonedx, &with_packages()),
        render(Format::Cyclonedx, &fixture::sample()),
        render(Format::Cyclonedx, &fixture::failed_scan()),
        render(Format::Cyclonedx, &fixture::hostile()),
        renderer().render_merged(Format::Cyclonedx, &s, &reports).unwrap(),
    ];
    for d in &docs {
        assert_valid_cyclonedx(&serde_json::from_slice(d).unwrap());
    }
    let v: serde_json::Value = serde_json::from_slice(&docs[0]).unwrap();
    assert_eq!((v["bomFormat"].as_str(), v["specVersion"].as_str()), (Some("CycloneDX"), Some("1.5")));
    assert_eq!(v["metadata"]["component"]["type"], "container");
    let comps = v["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert_eq!(comps[0]["purl"], "pkg:deb/debian/openssh-client@1%3A9.2p1-2?arch=amd64");
    assert!(comps.iter().all(|c| c["type"] == "library"));
    let merged: serde_json::Value = serde_json::from_slice(&docs[4]).unwrap();
    assert_eq!(merged["components"].as_array().unwrap().len(), reports.len());
    assert_eq!(merged["components"][0]["components"].as_array().unwrap().len(), 2);
    // RFC 4122 version 4, variant 1 (the schema checks only the hex shape).
    let serial = v["serialNumber"].as_str().unwrap().strip_prefix("urn:uuid:").unwrap();
    assert_eq!(&serial[14..15], "4", "{serial}");
    assert!("89ab".contains(&serial[19..20]), "{serial}");
    // Same report, same BOM; the validator must be able to say no.
    assert_eq!(docs[0], render(Format::Cyclonedx, &with_packages()));
    let mut bad = v.clone();
    bad["components"][0]["type"] = "package".into();
    assert!(cyclonedx_errors(&bad).is_some(), "an unknown component type must be rejected");
    bad = v.clone();
    bad["serialNumber"] = "urn:uuid:not-a-uuid".into();
    assert!(cyclonedx_errors(&bad).is_some(), "a malformed serial number must be rejected");
}

#[test]
fn documents_show_the_owning_package_the_copied_in_file_and_the_fix() {
    let mut r = with_packages();
    let suid = r.checks.iter_mut().find(|c| c.id == "suid-files").unwrap();
    let f = &mut suid.findings[0];
    f.package = Some(PackageRef {
        name: "openssh-client".into(),
        version: "1:9.2p1-2".into(),
        arch: "amd64".into(),
        ecosystem: "deb".into(),
    });
    f.fix = Some("apt-get purge --auto-remove openssh-client".into());
    let g = &mut suid.findings[1];
    g.not_owned = true;
    g.fix = Some("chmod u-s /x".into());
    let json: serde_json::Value = serde_json::from_slice(&render(Format::Json, &r)).unwrap();
    assert_valid_report(&json);
    for format in [Format::Html, Format::Markdown] {
        let out = String::from_utf8(render(format, &r)).unwrap();
        for want in [
            "from package",
            "openssh-client",
            "1:9.2p1-2 (deb)",
            "not owned by any package: copied in by hand",
            "apt-get purge --auto-remove openssh-client",
            "chmod u-s /x",
            "deb: 2 packages",
        ] {
            assert!(out.contains(want), "{} lacks {want:?}", format.name());
        }
        assert!(!out.contains("<x>"), "{}: a package name became markup", format.name());
    }
    // No database found: the documents say so, and findings name no package.
    let mut none = fixture::sample();
    none.packages = Some(PackagesInfo {
        databases: ["deb", "apk", "rpm"]
            .iter()
            .map(|e| PackageDbInfo { ecosystem: e.to_string(), status: "absent".into(), reason: None, count: 0 })
            .collect(),
        installed: Vec::new(),
    });
    let md = String::from_utf8(render(Format::Markdown, &none)).unwrap();
    assert!(md.contains("no package database was found or readable"), "{md}");
    assert!(!md.contains("from package"));
}
