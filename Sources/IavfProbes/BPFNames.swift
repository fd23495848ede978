/// What the typed names of the embedded BPF objects conform to. The names themselves,
/// `BPFNames.<object>.Program`, `.Map` and `.Global`, are generated at build time by the
/// BPFObjectsPlugin from each object's ELF symbol table (see Sources/IavfBPFEmbed), so
/// a program, map or global the BPF source renames or drops breaks the Swift build.

/// A program of an embedded object; `section` is its SEC() string ("fentry/iavf_open").
public protocol BPFProgramName: RawRepresentable, Hashable, Sendable where RawValue == String {
    var section: String { get }
}

/// A map of an embedded object.
public protocol BPFMapName: RawRepresentable, Hashable, Sendable where RawValue == String {}

/// A global variable of an embedded object; `section` is its data section (.rodata for
/// the `const volatile` knobs set before load, .bss/.data for what is read after).
public protocol BPFGlobalName: RawRepresentable, Hashable, Sendable where RawValue == String {
    var section: String { get }
}

extension BPFProgramName {
    /// "fentry", "fexit", "kprobe", "kretprobe", "raw_tp", "syscall", ...
    public var attachKind: String { String(section.split(separator: "/").first ?? "") }
    /// The kernel function or tracepoint after the kind, if any.
    public var target: String? {
        let parts = section.split(separator: "/", maxSplits: 1)
        return parts.count == 2 ? String(parts[1]) : nil
    }
}
