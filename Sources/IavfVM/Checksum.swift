import Foundation

/// SHA256 of files (coreutils sha256sum: fast in debug builds too) and SHA256SUMS lists.
public enum Checksum {
    /// Lower-case hex SHA256 of the file at `path`.
    public static func sha256(ofFile path: String) throws -> String {
        let tool = try HostTools.require("sha256sum")
        let out = try Subprocess.run(tool, ["--", path])
        guard out.status == 0, let digest = out.stdout.split(separator: " ").first, digest.count == 64 else {
            throw VMError.environment("sha256sum \(path) failed: \(out.combined)")
        }
        return String(digest).lowercased()
    }

    /// Throws `checksumMismatch` unless the file's SHA256 equals `expected`.
    public static func verify(file path: String, expected: String) throws {
        let actual = try sha256(ofFile: path)
        guard actual == expected.lowercased() else {
            throw VMError.checksumMismatch(file: path, expected: expected.lowercased(), actual: actual)
        }
    }

    /// The digest listed for `fileName` in a `SHA256SUMS` file (sha256sum format), or nil.
    public static func listed(fileName: String, inSumsFile sums: String) -> String? {
        guard let text = try? String(contentsOfFile: sums, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard fields.count == 2 else { continue }
            var name = fields[1].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("*") { name.removeFirst() }
            if name == fileName || (name as NSString).lastPathComponent == fileName,
               fields[0].count == 64 {
                return fields[0].lowercased()
            }
        }
        return nil
    }
}
