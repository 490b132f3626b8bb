//! The Handlebars templates: embedded from `templates/`, one registry per output family
//! (each with its own escape function), strict mode on, and any template replaceable by a
//! file of the same name in a user directory (`--templates DIR`).

use super::markup;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError, RenderErrorReason,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Html,
    Markdown,
    Xml,
}

pub struct Embedded {
    /// The file name in `templates/`, and in an override directory.
    pub file: &'static str,
    pub family: Family,
    pub source: &'static str,
}

/// Every template. A name without `.hbs` is how others include it as a partial.
pub const EMBEDDED: &[Embedded] = &[
    Embedded { file: "report.html.hbs", family: Family::Html, source: include_str!("../../templates/report.html.hbs") },
    Embedded { file: "merge.html.hbs", family: Family::Html, source: include_str!("../../templates/merge.html.hbs") },
    Embedded { file: "html-head.hbs", family: Family::Html, source: include_str!("../../templates/html-head.hbs") },
    Embedded { file: "html-style.hbs", family: Family::Html, source: include_str!("../../templates/html-style.hbs") },
    Embedded { file: "html-image.hbs", family: Family::Html, source: include_str!("../../templates/html-image.hbs") },
    Embedded { file: "report.md.hbs", family: Family::Markdown, source: include_str!("../../templates/report.md.hbs") },
    Embedded { file: "merge.md.hbs", family: Family::Markdown, source: include_str!("../../templates/merge.md.hbs") },
    Embedded { file: "md-image.hbs", family: Family::Markdown, source: include_str!("../../templates/md-image.hbs") },
    Embedded { file: "junit.xml.hbs", family: Family::Xml, source: include_str!("../../templates/junit.xml.hbs") },
];

pub struct Templates {
    html: Handlebars<'static>,
    markdown: Handlebars<'static>,
    xml: Handlebars<'static>,
    /// Template name → the override file it was loaded from.
    overridden: BTreeMap<String, PathBuf>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("overridden", &self.overridden).finish()
    }
}

/// The registry name of a template file: the file name without `.hbs`.
pub fn name_of(file: &str) -> &str {
    file.strip_suffix(".hbs").unwrap_or(file)
}

impl Templates {
    /// The embedded templates, with any file of the same name in `dir` taking precedence.
    /// A `.hbs` file in `dir` that replaces nothing is an error (a misspelt name would
    /// otherwise be silently ignored), as is a template that does not compile.
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut overrides: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read templates directory {}: {e}", dir.display()))?;
            for entry in entries {
                let entry = entry.map_err(|e| format!("cannot read templates directory {}: {e}", dir.display()))?;
                let file = entry.file_name();
                let Some(file) = file.to_str() else { continue };
                if !file.ends_with(".hbs") {
                    continue;
                }
                if !EMBEDDED.iter().any(|t| t.file == file) {
                    return Err(format!(
                        "templates directory {}: {file} does not replace any template (known: {})",
                        dir.display(),
                        EMBEDDED.iter().map(|t| t.file).collect::<Vec<_>>().join(", ")
                    ));
                }
                let path = entry.path();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
                overrides.insert(file.to_string(), (path, text));
            }
        }
        let mut t = Templates {
            html: registry(markup::html),
            markdown: registry(markup::markdown),
            xml: registry(markup::xml),
            overridden: BTreeMap::new(),
        };
        t.markdown.register_helper("code", Box::new(CodeSpan { cell: false }));
        t.markdown.register_helper("code_cell", Box::new(CodeSpan { cell: true }));
        for e in EMBEDDED {
            let (source, origin) = match overrides.remove(e.file) {
                Some((path, text)) => {
                    t.overridden.insert(name_of(e.file).to_string(), path.clone());
                    (text, Some(path))
                }
                None => (e.source.to_string(), None),
            };
            let reg = t.registry_mut(e.family);
            reg.register_template_string(name_of(e.file), source).map_err(|err| match origin {
                Some(p) => format!("template {} does not compile: {err}", p.display()),
                None => format!("built-in template {} does not compile: {err}", e.file),
            })?;
        }
        Ok(t)
    }

    fn registry_mut(&mut self, f: Family) -> &mut Handlebars<'static> {
        match f {
            Family::Html => &mut self.html,
            Family::Markdown => &mut self.markdown,
            Family::Xml => &mut self.xml,
        }
    }

    fn registry(&self, f: Family) -> &Handlebars<'static> {
        match f {
            Family::Html => &self.html,
            Family::Markdown => &self.markdown,
            Family::Xml => &self.xml,
        }
    }

    /// Render template `file` (e.g. "report.html.hbs"). A strict-mode miss or a helper
    /// error is an error naming the template, and its override file if it has one.
    pub fn render(&self, file: &str, data: &impl Serialize) -> Result<String, String> {
        let e = EMBEDDED.iter().find(|t| t.file == file).ok_or_else(|| format!("no template {file}"))?;
        let name = name_of(file);
        self.registry(e.family).render(name, data).map_err(|err| {
            let origin = err
                .template_name
                .as_deref()
                .and_then(|n| self.overridden.get(n))
                .map(|p| format!(" (from {})", p.display()))
                .unwrap_or_default();
            format!("rendering {file} failed{origin}: {err}")
        })
    }
}

fn registry(escape: fn(&str) -> String) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.set_prevent_indent(true);
    h.register_escape_fn(escape);
    h.register_helper("bytes", Box::new(bytes));
    h.register_helper("bar", Box::new(bar));
    h.register_helper("plural", Box::new(plural));
    h.register_helper("join", Box::new(join));
    h
}

/// A byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

handlebars::handlebars_helper!(bytes: |n: u64| human_bytes(n));
// `{{bar value max width}}`: the length of a bar for `value` on a scale where `max` is `width`.
handlebars::handlebars_helper!(bar: |value: u64, max: u64, width: u64| super::view::scale(value, max, width));
// `{{plural n "file" "files"}}`
handlebars::handlebars_helper!(plural: |n: u64, one: str, many: str|
    crate::text::plural(n as usize, one, many).to_string());
// `{{join list ", "}}`
handlebars::handlebars_helper!(join: |list: array, sep: str| list
    .iter()
    .map(|v| match v { serde_json::Value::String(s) => s.clone(), v => v.to_string() })
    .collect::<Vec<_>>()
    .join(sep));

/// `{{code value}}` / `{{code_cell value}}` (Markdown only): the value as a code span,
/// written as is (a code span is already inert; escaping it again would show the escapes).
struct CodeSpan {
    cell: bool,
}

impl HelperDef for CodeSpan {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = if self.cell { "code_cell" } else { "code" };
        let p = h.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
        if r.strict_mode() && p.is_value_missing() {
            return Err(RenderError::strict_error(p.relative_path()));
        }
        let s = match p.value() {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            v => v.to_string(),
        };
        let span = if self.cell { markup::markdown_code_cell(&s) } else { markup::markdown_code(&s) };
        out.write(&span)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The renderer compiles these only when a format first needs them, and panics if they
    /// do not compile: this is what makes that safe.
    #[test]
    fn every_built_in_template_compiles() {
        let t = Templates::load(None).expect("built-in templates compile");
        assert!(t.overridden.is_empty());
        for e in EMBEDDED {
            assert!(t.registry(e.family).get_template(name_of(e.file)).is_some(), "{}", e.file);
        }
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(127 * 1024 * 1024), "127.0 MiB");
    }
}
