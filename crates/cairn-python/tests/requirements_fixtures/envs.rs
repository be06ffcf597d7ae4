//! Marker environments for the requirements tests: real interpreters' values.
#![allow(dead_code)]

use cairn_python::requirements::{InterpreterMarkers, MarkerEnvironment};

/// What CPython 3.11.7 on x86-64 Linux reports.
pub(crate) fn linux_cpython(full_version: &str) -> MarkerEnvironment {
    MarkerEnvironment::new(&InterpreterMarkers {
        implementation_name: "cpython".into(),
        implementation_version: full_version.into(),
        os_name: "posix".into(),
        platform_machine: "x86_64".into(),
        platform_python_implementation: "CPython".into(),
        platform_release: "6.8.0-45-generic".into(),
        platform_system: "Linux".into(),
        platform_version: "#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024".into(),
        python_full_version: full_version.into(),
        python_version: String::new(),
        sys_platform: "linux".into(),
    })
    .unwrap()
}

/// What CPython on 64-bit Windows reports.
pub(crate) fn windows_cpython(full_version: &str) -> MarkerEnvironment {
    MarkerEnvironment::new(&InterpreterMarkers {
        implementation_name: "cpython".into(),
        implementation_version: full_version.into(),
        os_name: "nt".into(),
        platform_machine: "AMD64".into(),
        platform_python_implementation: "CPython".into(),
        platform_release: "10".into(),
        platform_system: "Windows".into(),
        platform_version: "10.0.19045".into(),
        python_full_version: full_version.into(),
        python_version: String::new(),
        sys_platform: "win32".into(),
    })
    .unwrap()
}
