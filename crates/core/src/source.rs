//! Source metadata that analysts slice reports by.

use serde::{Deserialize, Serialize};

/// Reach of an outlet: how wide its audience is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceScope {
    /// Country-wide outlet.
    #[default]
    National,
    /// Regional outlet (several municipalities, a province).
    Regional,
    /// Local outlet (a town or municipality).
    Local,
    /// Social media account, channel or community.
    Social,
}

impl SourceScope {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceScope::National => "national",
            SourceScope::Regional => "regional",
            SourceScope::Local => "local",
            SourceScope::Social => "social",
        }
    }
}

/// What is known about a source, independent of how it is fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceMeta {
    /// Unique id from the config (`[a-z0-9-_]`).
    pub id: String,
    /// Outlet name as shown to people.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code (`XK` for Kosovo), upper case.
    pub country: String,
    /// ISO 639-1 language codes the outlet publishes in; the first is the default.
    pub languages: Vec<String>,
    /// National, regional, local or social.
    pub scope: SourceScope,
    /// Free-form audience tags (e.g. `tabloid`, `youth`, `diaspora`).
    #[serde(default)]
    pub audience: Vec<String>,
    /// Estimated reach (monthly readers), used to weight the audience map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
}
