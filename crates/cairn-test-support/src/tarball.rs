//! Hand-made tar entries, for tests of unpackers that must refuse what a normal archiver would
//! never write: names with `..` or a leading `/`, links, devices, a file twice.

/// Appends an entry named `name` (raw bytes, up to 100, written as given) of `kind` with
/// `data`; links point at `/etc/passwd`.
pub fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &[u8],
    kind: tar::EntryType,
    data: &[u8],
) {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    if matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link) {
        header
            .set_link_name("/etc/passwd")
            .unwrap_or_else(|error| panic!("a link name: {error}"));
    }
    header.set_cksum();
    builder
        .append(&header, data)
        .unwrap_or_else(|error| panic!("appending to an in-memory tar: {error}"));
}

/// Tars every unpacker of untrusted archives must refuse, each named, uncompressed: a name
/// climbing out with `..`, an absolute name, a symbolic link, a hard link, a character device, a
/// FIFO, a file written twice. Each file sits in a directory `p/` (or climbs out of it).
pub fn hostile_tars() -> Vec<(&'static str, Vec<u8>)> {
    type Build = fn(&mut tar::Builder<Vec<u8>>);
    let cases: [(&'static str, Build); 7] = [
        ("dotdot", |b| {
            raw_entry(b, b"p/../../evil", tar::EntryType::Regular, b"x")
        }),
        ("absolute", |b| {
            raw_entry(b, b"/tmp/evil", tar::EntryType::Regular, b"x")
        }),
        ("symlink", |b| {
            raw_entry(b, b"p/link", tar::EntryType::Symlink, b"")
        }),
        ("hardlink", |b| {
            raw_entry(b, b"p/hard", tar::EntryType::Link, b"")
        }),
        ("device", |b| {
            raw_entry(b, b"p/dev", tar::EntryType::Char, b"")
        }),
        ("fifo", |b| {
            raw_entry(b, b"p/fifo", tar::EntryType::Fifo, b"")
        }),
        ("twice", |b| {
            raw_entry(b, b"p/a", tar::EntryType::Regular, b"1");
            raw_entry(b, b"p/a", tar::EntryType::Regular, b"2");
        }),
    ];
    cases
        .into_iter()
        .map(|(name, build)| {
            let mut builder = tar::Builder::new(Vec::new());
            build(&mut builder);
            let bytes = builder
                .into_inner()
                .unwrap_or_else(|error| panic!("finishing an in-memory tar: {error}"));
            (name, bytes)
        })
        .collect()
}
