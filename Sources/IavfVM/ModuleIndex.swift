import Foundation

/// Writes `modules.dep` and `modules.alias` for a kernel tree from each module's `.modinfo`
/// section (`depends=`, `alias=`): what the guest's busybox modprobe needs, in a fraction of the
/// time `busybox depmod` takes (which also reads every symbol table). The host may have no kmod.
///
/// modules.dep lists, for each module, its transitive dependencies with the one to load first
/// last, the order busybox and kmod both expect.
public enum ModuleIndex {
    public struct Info: Equatable, Sendable {
        public var path: String
        public var depends: [String]
        public var aliases: [String]
    }

    /// Writes both files into `modulesDirectory`; returns the number of modules, or nil when the tree
    /// has compressed modules (then the caller falls back to busybox depmod).
    @discardableResult
    public static func write(modulesDirectory: String) throws -> Int? {
        var infos: [String: Info] = [:]
        let kernelDir = (modulesDirectory as NSString).appendingPathComponent("kernel")
        guard let walker = FileManager.default.enumerator(atPath: kernelDir) else {
            throw VMError.environment("cannot read \(kernelDir)")
        }
        while let rel = walker.nextObject() as? String {
            if rel.hasSuffix(".ko.xz") || rel.hasSuffix(".ko.zst") || rel.hasSuffix(".ko.gz") { return nil }
            guard rel.hasSuffix(".ko") else { continue }
            let path = "kernel/" + rel
            let full = (kernelDir as NSString).appendingPathComponent(rel)
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: full), options: .alwaysMapped),
                  let fields = modinfo(ofELF: data) else {
                throw VMError.environment("\(full) is not a readable kernel module (a broken package?)")
            }
            var depends: [String] = []
            var aliases: [String] = []
            for field in fields {
                if field.hasPrefix("depends=") {
                    depends = field.dropFirst("depends=".count).split(separator: ",").map { normalize(String($0)) }
                } else if field.hasPrefix("alias=") {
                    aliases.append(String(field.dropFirst("alias=".count)))
                }
            }
            infos[moduleName(path)] = Info(path: path, depends: depends, aliases: aliases)
        }
        let (dep, alias) = render(infos)
        try Data(dep.utf8).write(to: URL(fileURLWithPath: (modulesDirectory as NSString).appendingPathComponent("modules.dep")))
        try Data(alias.utf8).write(to: URL(fileURLWithPath: (modulesDirectory as NSString).appendingPathComponent("modules.alias")))
        return infos.count
    }

    static func normalize(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }

    static func moduleName(_ path: String) -> String {
        var base = (path as NSString).lastPathComponent
        if base.hasSuffix(".ko") { base.removeLast(3) }
        return normalize(base)
    }

    /// The text of modules.dep and modules.alias, sorted by path for stable output.
    static func render(_ infos: [String: Info]) -> (String, String) {
        var dep = ""
        var alias = ""
        var closures: [String: [String]] = [:]
        // Load order of `name`'s dependencies (the first one loads first), memoized.
        func loadOrder(_ name: String, _ visiting: inout Set<String>) -> [String] {
            if let done = closures[name] { return done }
            var order: [String] = []
            var seen = Set<String>()
            visiting.insert(name)
            for d in infos[name]?.depends ?? [] where infos[d] != nil && !visiting.contains(d) {
                for m in loadOrder(d, &visiting) + [d] where seen.insert(m).inserted { order.append(m) }
            }
            visiting.remove(name)
            closures[name] = order
            return order
        }
        for (name, info) in infos.sorted(by: { $0.value.path < $1.value.path }) {
            var visiting = Set<String>()
            let deps = loadOrder(name, &visiting).reversed().compactMap { infos[$0]?.path }
            dep += info.path + ":" + deps.map { " " + $0 }.joined() + "\n"
            for a in info.aliases { alias += "alias \(a) \(name)\n" }
        }
        return (dep, alias)
    }

    /// The NUL-separated strings of the `.modinfo` section of a 64-bit little-endian ELF file
    /// (an ELF without one has none: nil only for what is not such an ELF file).
    static func modinfo(ofELF data: Data) -> [String]? {
        guard let elf = ELFSections(data) else { return nil }
        return elf.strings(of: ".modinfo", in: data) ?? []
    }
}
