//! PEP 503 HTML project pages: one `<a href>` per file, with `data-requires-python`,
//! `data-yanked`, `data-core-metadata` (or its older name `data-dist-info-metadata`, PEP 714)
//! and a `#<algorithm>=<hex>` fragment.
//!
//! Index pages are machine-written and simple, so a small tolerant scanner reads them: it finds
//! `<a>` and `<base>` start tags (any case, any attribute order and quoting), skips comments,
//! and ignores everything else. Relative links resolve against `<base href>` if the page has
//! one, else against the page's own URL (mirrors write `../../packages/…`).

use url::Url;

use super::file::{IndexFile, MetadataLink};
use super::link;

/// The files an HTML page lists; `page_url` is the URL the page came from, after redirects.
pub(crate) fn parse(page: &str, page_url: &Url) -> Vec<IndexFile> {
    let mut base = page_url.clone();
    let mut files = Vec::new();
    for tag in StartTags::new(page) {
        match tag.name.as_str() {
            "base" => {
                if let Some(href) = tag.attribute("href")
                    && let Ok(url) = page_url.join(&href)
                {
                    base = url;
                }
            }
            "a" => {
                let Some(href) = tag.attribute("href") else {
                    continue;
                };
                let Some(mut file) = link::file_at(&base, &href) else {
                    tracing::debug!(%href, "skipping a link that is not a file URL");
                    continue;
                };
                file.requires_python = tag
                    .attribute("data-requires-python")
                    .filter(|text| !text.trim().is_empty());
                file.yanked = tag.attribute("data-yanked");
                file.core_metadata = tag
                    .attribute("data-core-metadata")
                    .or_else(|| tag.attribute("data-dist-info-metadata"))
                    .and_then(|value| MetadataLink::from_attribute(&value));
                files.push(file);
            }
            _ => {}
        }
    }
    files
}

/// A start tag: its lowercase name and its raw attributes.
struct StartTag<'a> {
    name: String,
    attributes: Vec<(String, &'a str)>,
}

impl StartTag<'_> {
    /// The value of attribute `name` with character references decoded; `Some("")` for an
    /// attribute without a value.
    fn attribute(&self, name: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| decode_entities(value))
    }
}

/// The `<a>` and `<base>` start tags of a document, in order.
struct StartTags<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> StartTags<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }
}

impl<'a> Iterator for StartTags<'a> {
    type Item = StartTag<'a>;

    fn next(&mut self) -> Option<StartTag<'a>> {
        loop {
            let rest = self.text.get(self.position..)?;
            let open = rest.find('<')?;
            let tag_start = self.position + open + 1;
            let tail = &self.text[tag_start..];
            if tail.starts_with("!--") {
                // A comment runs to `-->`, whatever it contains.
                self.position = tail
                    .find("-->")
                    .map_or(self.text.len(), |end| tag_start + end + 3);
                continue;
            }
            let name_len = tail
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(tail.len());
            if name_len == 0 {
                // An end tag, a doctype or a stray `<`: not a start tag to read.
                self.position = tag_start;
                continue;
            }
            let name = tail[..name_len].to_ascii_lowercase();
            let (attributes, consumed) = scan_attributes(&tail[name_len..]);
            self.position = tag_start + name_len + consumed;
            if name == "a" || name == "base" {
                return Some(StartTag { name, attributes });
            }
        }
    }
}

/// Reads attributes up to the closing `>`; returns them and the bytes consumed.
fn scan_attributes(text: &str) -> (Vec<(String, &str)>, usize) {
    let bytes = text.as_bytes();
    let mut attributes = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (attributes, i);
        }
        if bytes[i] == b'>' {
            return (attributes, i + 1);
        }
        let name_start = i;
        while i < bytes.len()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
            && !bytes[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let name = text[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            attributes.push((name, ""));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = text[start..]
                    .find(char::from(quote))
                    .map_or(text.len(), |len| start + len);
                i = (end + 1).min(text.len());
                &text[start..end]
            }
            _ => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'>' && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &text[start..i]
            }
        };
        attributes.push((name, value));
    }
}

/// Decodes the character references an index writes in attribute values (`&gt;=3.8`).
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let character = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity.strip_prefix('#').and_then(|number| {
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => number.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            character.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((character, len)) => {
                out.push(character);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
