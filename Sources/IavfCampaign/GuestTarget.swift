import Foundation
import IavfSystem
import IavfVM

/// Which iavf a guest runs: the kernel's own, a prebuilt module (`--iavf FILE.ko`), or one
/// built here from sources (`--iavf DIR`, or Debian's linux-source of the kernel's version)
/// with patches applied in order (`--iavf-patches`).
public enum IavfChoice: Sendable, Equatable {
    case stock
    case module(String)
    /// nil directory: the iavf directory of Debian's linux-source-X.Y of the kernel's version.
    case source(directory: String?, patches: [String])
}

/// One column of the results: a kernel and the iavf it runs. `--iavf-patches A,B` makes the
/// steps base, +A, +A+B of each kernel, so a reviewer sees which patch changes which case.
public struct GuestTarget: Sendable, Equatable {
    public var kernel: String
    public var iavf: IavfChoice
    /// What the table's column says: "patched", "patched +0001-fix".
    public var label: String
    /// File names of this target's outputs.
    public var tag: String

    public init(kernel: String, iavf: IavfChoice = .stock, label: String? = nil) {
        self.kernel = kernel
        self.iavf = iavf
        self.label = label ?? kernel
        self.tag = KernelList.tag(kernel) + Self.tagSuffix(iavf)
    }

    static func tagSuffix(_ c: IavfChoice) -> String {
        switch c {
        case .stock: return ""
        case .module: return "-iavfko"
        case .source(let dir, let patches):
            return (dir == nil ? "-src" : "-dir") + (patches.isEmpty ? "" : "-p\(patches.count)")
        }
    }

    /// "0001-iavf-drop-VLAN-filters....patch" -> "0001-iavf-drop-VLAN-filters..." (40 chars).
    static func patchName(_ path: String) -> String {
        var n = URL(fileURLWithPath: path).lastPathComponent
        for ext in [".patch", ".diff"] where n.hasSuffix(ext) { n.removeLast(ext.count) }
        return n.count > 40 ? String(n.prefix(40)) : n
    }

    /// The targets of `--kernel`, `--iavf` and `--iavf-patches`, checked before anything is
    /// fetched or booted (bad input: exit 2).
    public static func plan(kernels: [String], iavf: String?, patches: [String]) throws -> [GuestTarget] {
        try IavfModuleBuilder.validatePatches(patches)
        var base: IavfChoice = .stock
        if let iavf {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: iavf, isDirectory: &isDir) else {
                throw BadInput("--iavf \(iavf): no such file or directory (give an iavf.ko or the driver's source directory)")
            }
            let path = URL(fileURLWithPath: iavf).standardizedFileURL.path
            if isDir.boolValue {
                try IavfModuleBuilder.validateSourceDirectory(path)
                base = .source(directory: path, patches: [])
            } else {
                guard patches.isEmpty else {
                    throw BadInput("--iavf-patches needs sources to patch: give --iavf DIR (or no --iavf: the kernel's own linux-source), not a built module")
                }
                base = .module(path)
            }
        }
        var out: [GuestTarget] = []
        for k in kernels {
            if patches.isEmpty {
                let label: String
                switch base {
                case .stock: label = k
                case .module(let p): label = "\(k) iavf \(URL(fileURLWithPath: p).lastPathComponent)"
                case .source: label = "\(k) iavf built"
                }
                out.append(GuestTarget(kernel: k, iavf: base, label: label))
                continue
            }
            var dir: String?
            if case .source(let d, _) = base { dir = d }
            for i in 0...patches.count {
                let applied = Array(patches.prefix(i)).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                let label = i == 0 ? "\(k) base" : "\(k) +" + applied.map(patchName).joined(separator: "+")
                out.append(GuestTarget(kernel: k, iavf: .source(directory: dir, patches: applied), label: label))
            }
        }
        return out
    }
}

extension EmulatedPFGuest {
    /// Makes `choice` a module file for the prepared kernel: checks a given one, builds one from
    /// sources. Patch, build and check failures name the step (exit 3; bad input exit 2).
    static func resolve(_ choice: IavfChoice, kernel: PreparedKernel, label: String, note: (String) -> Void) throws -> (String, [String])? {
        switch choice {
        case .stock:
            return nil
        case .module(let path):
            let facts = try IavfModuleBuilder.validateModule(path: path, release: kernel.release)
            note("\(label): iavf from \(path), not the kernel's own")
            return (path, facts.depends)
        case .source(let dir, let patches):
            let source: IavfModuleBuilder.Source
            if let dir {
                source = .directory(dir)
            } else {
                guard let version = kernel.debianVersion else {
                    throw BadInput("\(label): \(kernel.label) is not a Debian kernel package, so there is no linux-source of its version to patch: give --iavf DIR")
                }
                source = .debian(try KernelSourcePackage.matching(kernelVersion: version))
            }
            do {
                let built = try IavfModuleBuilder(progress: VMProgress(enabled: true))
                    .build(source: source, patches: patches, release: kernel.release, vmlinuz: kernel.vmlinuz)
                note("\(label): iavf.ko \(built.wasCached ? "cached" : "built") (\(built.btfBytes) bytes of BTF on the guest's vmlinux)")
                let facts = try IavfModuleBuilder.validateModule(path: built.path, release: kernel.release)
                return (built.path, facts.depends)
            } catch let e as IavfModuleError {
                throw StepFailure(step: label, error: e)
            }
        }
    }
}

/// A patch step that did not apply, build or load: which step, and the tool's output.
public struct StepFailure: ToolError {
    public var step: String
    public var error: IavfModuleError
    public var description: String { "step '\(step)': \(error)" }
    public var exitStatus: Int32 { error.exitCode }
}
