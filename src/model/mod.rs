//! The report model: the vocabulary, one image's report, the merged summary of many, and the
//! exit-code contract as data. A leaf: it depends on serde only, so reading a report (for
//! `merge` or a renderer) needs nothing of the scanner.

mod merged;
mod outcome;
mod policy;
mod report;
mod tree;
mod vocab;

pub use merged::{CheckColumn, MergedImage, MergedSummary, Totals, MERGED_KIND};
pub use outcome::{ExitCodes, Outcome};
pub use policy::{CheckPolicy, LabelPolicy, Policy, RequiredLabel, Scope, Waiver};
pub use report::{
    AppliedWaiver, BaseFoundBy, BaseInfo, CheckResult, Finding, ImageInfo, InstalledPackage, LayerInfo, Origin,
    PackageDbInfo, PackageRef, PackagesInfo, Report, RuleLists, ScanError, SettingsInfo, StoreOptions, Summary,
    ToolInfo, WaiverUse, SCHEMA_VERSION,
};
pub use tree::{FileTree, TreeDir, TreeFile, TreeLimits};
pub use vocab::{EntryKind, ErrorKind, Severity, SeverityCounts, Source, SourceChoice, Status, Verdict, WaiverStatus};
