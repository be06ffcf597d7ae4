//! The AWS shared configuration files: a named profile's credentials, region and endpoint, for
//! machines configured with `aws configure` rather than variables.
//!
//! `object_store` reads the `AWS_*` variables, instance metadata and web identity, but not the
//! files. Read here: `[NAME]` of `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`) for
//! `aws_access_key_id`, `aws_secret_access_key` and `aws_session_token`, and `[profile NAME]`
//! (`[default]` for the default profile) of `~/.aws/config` (`AWS_CONFIG_FILE`) for `region` and
//! `endpoint_url`. `NAME` is `AWS_PROFILE`, else `default`. A variable that is set wins over the
//! files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The values a profile sets, by their names in the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    values: HashMap<String, String>,
}

impl Profile {
    /// The profile named `name` from the two files (either may be missing).
    pub fn read(credentials: &Path, config: &Path, name: &str) -> Self {
        let mut values = HashMap::new();
        let config_section = if name == "default" {
            "default".to_owned()
        } else {
            format!("profile {name}")
        };
        for (path, section) in [(config, config_section.as_str()), (credentials, name)] {
            if let Ok(text) = std::fs::read_to_string(path) {
                values.extend(section_values(&text, section));
            }
        }
        Self { values }
    }

    /// The profile the environment names, from the files it names (or the defaults under
    /// the home directory).
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let file = |variable: &str, default: &str| {
            std::env::var_os(variable)
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".aws").join(default))
        };
        let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned());
        Self::read(
            &file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            &file("AWS_CONFIG_FILE", "config"),
            &name,
        )
    }

    /// The value of `key` (`aws_access_key_id`, `region`, …).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// The `key = value` lines of `[section]` in an INI text; comments (`#`, `;`) skipped.
fn section_values(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            inside = name.trim() == section;
            continue;
        }
        if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            found.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_named_profile_reads_both_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = DEFAULTKEY\n\n[ci]\n# the fleet's key\naws_access_key_id = CIKEY\naws_secret_access_key=CISECRET\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[default]\nregion = us-east-1\n[profile ci]\nregion = garage\nendpoint_url = http://127.0.0.1:3900\n",
        )
        .unwrap();
        let ci = Profile::read(&credentials, &config, "ci");
        assert_eq!(ci.get("aws_access_key_id"), Some("CIKEY"));
        assert_eq!(ci.get("aws_secret_access_key"), Some("CISECRET"));
        assert_eq!(ci.get("region"), Some("garage"));
        assert_eq!(ci.get("endpoint_url"), Some("http://127.0.0.1:3900"));
        let default = Profile::read(&credentials, &config, "default");
        assert_eq!(default.get("aws_access_key_id"), Some("DEFAULTKEY"));
        assert_eq!(default.get("region"), Some("us-east-1"));
        assert_eq!(default.get("endpoint_url"), None);
        let missing = Profile::read(&dir.path().join("none"), &config, "nobody");
        assert_eq!(missing, Profile::default());
    }
}
