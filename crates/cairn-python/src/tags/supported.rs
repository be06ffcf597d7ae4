//! [`Tags`]: the ordered list of wheel tags an interpreter accepts, and ranking wheels by it.

use std::collections::HashMap;
use std::fmt;

use super::error::TagsError;
use super::interpreter::Interpreter;
use super::platform::Platform;
use cairn_types::WheelFilename;

/// The wheel tags a target accepts, from most to least preferred, in the order of
/// `packaging.tags.sys_tags()`: the interpreter's own ABI on each platform, then `abi3`, then
/// `none`, then `abi3` of older CPython versions, then `py3X-none-<platform>`, then
/// `<interpreter>-none-any` and `py3X-none-any`.
///
/// Tag parts are interned, so that ranking a wheel costs a few hash lookups and no allocation.
#[derive(Debug, Clone)]
pub struct Tags {
    python_version: (u8, u8),
    pythons: Interner,
    abis: Interner,
    platforms: Interner,
    /// Every tag as part ids, most preferred first.
    order: Vec<[u32; 3]>,
    /// The position of each tag in `order`.
    rank: HashMap<[u32; 3], u32>,
}

/// One supported tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    /// The Python tag: `cp311`, `py3`.
    pub python: &'a str,
    /// The ABI tag: `cp311`, `abi3`, `none`.
    pub abi: &'a str,
    /// The platform tag: `manylinux_2_17_x86_64`, `any`.
    pub platform: &'a str,
}

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// Strings numbered in order of first appearance.
#[derive(Debug, Clone, Default)]
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// The inputs of tag generation, common to a queried interpreter and a `--platform` target.
struct Target<'a> {
    implementation: &'a str,
    version: (u8, u8),
    interpreter_tag: &'a str,
    abi_tags: &'a [String],
    platforms: Vec<String>,
}

impl Tags {
    /// The tags `interpreter` accepts.
    pub fn from_interpreter(interpreter: &Interpreter) -> Self {
        Self::generate(&Target {
            implementation: &interpreter.implementation,
            version: interpreter.version,
            interpreter_tag: &interpreter.interpreter_tag,
            abi_tags: &interpreter.abi_tags,
            platforms: interpreter.platform.tags(),
        })
    }

    /// The tags of CPython `python_version` on the platform a wheel platform tag names
    /// (`--python-version` / `--platform`), expanded as on such a machine: see
    /// [`Platform::from_tag`].
    pub fn for_target(python_version: (u8, u8), platform: &str) -> Result<Self, TagsError> {
        if python_version.0 != 3 {
            return Err(TagsError::UnsupportedPython {
                version: python_version,
            });
        }
        let platform = Platform::from_tag(platform)?;
        let tag = format!("cp{}{}", python_version.0, python_version.1);
        let abi_tags = [tag.clone()];
        Ok(Self::generate(&Target {
            implementation: "cpython",
            version: python_version,
            interpreter_tag: &tag,
            abi_tags: &abi_tags,
            platforms: platform.tags(),
        }))
    }

    /// The Python language version the tags are for.
    pub fn python_version(&self) -> (u8, u8) {
        self.python_version
    }

    /// How many tags there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none (never, for tags built by this type).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The tags, most preferred first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Tag<'_>> {
        self.order.iter().map(|&[python, abi, platform]| Tag {
            python: self.pythons.name(python),
            abi: self.abis.name(abi),
            platform: self.platforms.name(platform),
        })
    }

    /// The rank of the best tag of `filename` (0 is the most preferred tag), or `None` if the
    /// wheel is not compatible. Compressed tag sets (`py2.py3-none-any`,
    /// `manylinux2014_x86_64.manylinux_2_17_x86_64`) count every combination.
    pub fn priority(&self, filename: &WheelFilename) -> Option<usize> {
        let ids = |interner: &Interner, parts: &str| -> Vec<u32> {
            parts
                .split('.')
                .filter_map(|part| interner.id(part))
                .collect()
        };
        let pythons = ids(&self.pythons, &filename.python);
        let abis = ids(&self.abis, &filename.abi);
        let platforms = ids(&self.platforms, &filename.platform);
        let mut best: Option<u32> = None;
        for &python in &pythons {
            for &abi in &abis {
                for &platform in &platforms {
                    if let Some(&rank) = self.rank.get(&[python, abi, platform]) {
                        best = Some(best.map_or(rank, |best| best.min(rank)));
                    }
                }
            }
        }
        best.map(|rank| rank as usize)
    }

    /// Whether `filename` is compatible at all.
    pub fn is_compatible(&self, filename: &WheelFilename) -> bool {
        self.priority(filename).is_some()
    }

    fn generate(target: &Target<'_>) -> Self {
        let mut tags = Self {
            python_version: target.version,
            pythons: Interner::default(),
            abis: Interner::default(),
            platforms: Interner::default(),
            order: Vec::new(),
            rank: HashMap::new(),
        };
        let platforms = &target.platforms;
        let is_cpython = target.implementation == "cpython";
        if is_cpython {
            tags.cpython(target);
        } else {
            // packaging's `generic_tags`: the interpreter's ABIs, then `none`.
            let mut abis: Vec<&str> = target.abi_tags.iter().map(String::as_str).collect();
            if !abis.contains(&"none") {
                abis.push("none");
            }
            for abi in abis {
                for platform in platforms {
                    tags.push(target.interpreter_tag, abi, platform);
                }
            }
        }

        // packaging's `compatible_tags`.
        let (major, minor) = target.version;
        let python_range: Vec<String> = std::iter::once(format!("py{major}{minor}"))
            .chain(std::iter::once(format!("py{major}")))
            .chain((0..minor).rev().map(|older| format!("py{major}{older}")))
            .collect();
        for python in &python_range {
            for platform in platforms {
                tags.push(python, "none", platform);
            }
        }
        let any_interpreter = match target.implementation {
            "cpython" => Some(target.interpreter_tag.to_owned()),
            "pypy" => Some(format!("pp{major}")),
            _ => None,
        };
        if let Some(interpreter) = any_interpreter {
            tags.push(&interpreter, "none", "any");
        }
        for python in &python_range {
            tags.push(python, "none", "any");
        }
        tags
    }

    /// packaging's `cpython_tags`.
    fn cpython(&mut self, target: &Target<'_>) {
        let (major, minor) = target.version;
        let interpreter = format!("cp{major}{minor}");
        let own_abis: Vec<&str> = target
            .abi_tags
            .iter()
            .map(String::as_str)
            .filter(|abi| !matches!(*abi, "abi3" | "abi3t" | "none"))
            .collect();
        let threaded = own_abis.first().is_some_and(|abi| is_threaded(abi));
        let stable_abi = (major, minor) >= (3, 2);
        // Free-threaded builds cannot load abi3 wheels; they have their own stable ABI.
        let stable = match (stable_abi, threaded) {
            (false, _) => None,
            (true, false) => Some("abi3"),
            (true, true) => Some("abi3t"),
        };
        for abi in &own_abis {
            for platform in &target.platforms {
                self.push(&interpreter, abi, platform);
            }
        }
        if let Some(stable) = stable {
            for platform in &target.platforms {
                self.push(&interpreter, stable, platform);
            }
        }
        for platform in &target.platforms {
            self.push(&interpreter, "none", platform);
        }
        if let Some(stable) = stable {
            for older in (2..minor).rev() {
                let older_interpreter = format!("cp{major}{older}");
                for platform in &target.platforms {
                    self.push(&older_interpreter, stable, platform);
                }
            }
        }
    }

    /// Appends a tag unless it is already listed (at a better rank).
    fn push(&mut self, python: &str, abi: &str, platform: &str) {
        let key = [
            self.pythons.intern(python),
            self.abis.intern(abi),
            self.platforms.intern(platform),
        ];
        let next = u32::try_from(self.order.len()).unwrap_or(u32::MAX);
        if let std::collections::hash_map::Entry::Vacant(slot) = self.rank.entry(key) {
            slot.insert(next);
            self.order.push(key);
        }
    }
}

/// Whether a CPython ABI tag (`cp313t`) names a free-threaded build.
fn is_threaded(abi: &str) -> bool {
    abi.strip_prefix("cp")
        .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
        .is_some_and(|flags| flags.contains('t'))
}
