import Foundation
import IavfSystem

/// The traces a command reads from a path: a file as given; a directory's `*.jsonl` and
/// `*.jsonl.gz`, sorted, leaving out a suite run's emulated-PF logs (pf-K.jsonl beside
/// trace-K.jsonl); a directory without any (a `stress` output) is searched one level down.
public enum TraceFiles {
    public static func expand(_ path: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return [path] }
        let base = path.hasSuffix("/") ? path : path + "/"
        var found = traces(in: base)
        if found.isEmpty {
            let subdirs = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().filter { n in
                var d: ObjCBool = false
                return FileManager.default.fileExists(atPath: base + n, isDirectory: &d) && d.boolValue
            }
            found = subdirs.flatMap { traces(in: base + $0 + "/") }
        }
        guard !found.isEmpty else { throw BadInput("bad input: \(path): no *.jsonl traces in this directory or the ones below it") }
        return found
    }

    static func traces(in dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let all = Set(names)
        return names.filter { n in
            (n.hasSuffix(".jsonl") || n.hasSuffix(".jsonl.gz")) && !(n.hasPrefix("pf-") && all.contains("trace-" + n.dropFirst(3)))
        }.sorted().map { dir + $0 }
    }
}
