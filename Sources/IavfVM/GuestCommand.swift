import Foundation

/// The script the guest runs (`$vmout/cmd`, by the host's /bin/sh inside the guest): exports, a `cd`
/// to the host's working directory, and `exec` of the command with every argument quoted, so the guest
/// sees exactly the argv given on the host.
public enum GuestCommand {
    /// POSIX shell quoting: plain words stay as they are, anything else goes in single quotes.
    public static func quote(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_./=:,+@%-".unicodeScalars.contains($0))
        }
        if plain && !word.hasPrefix("=") { return word }
        return "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// True for a name `export` accepts.
    public static func isValidEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    /// The script text. `environment` is applied in order; `workingDirectory` falls back to `/`.
    /// `insmod`: module files loaded first, each "FILE [PARAM=VALUE ...]"; a failure exits 125.
    public static func script(command: [String], workingDirectory: String?,
                              environment: [(String, String)] = [], insmod: [String] = []) throws -> String {
        guard !command.isEmpty else { throw VMError.usage("no guest command given (put it after --)") }
        var lines = ["# iavf-check vm: the guest command (run by /bin/sh in the guest)"]
        for (name, value) in environment {
            guard isValidEnvironmentName(name) else {
                throw VMError.usage("invalid environment variable name '\(name)' (use NAME=VALUE)")
            }
            lines.append("export \(name)=\(quote(value))")
        }
        for spec in insmod {
            let words = spec.split(separator: " ").map(String.init)
            guard let file = words.first, file.hasPrefix("/") else {
                throw VMError.usage("--insmod '\(spec)': give an absolute module path, then optional PARAM=VALUE words")
            }
            let line = (["insmod"] + words).map(quote).joined(separator: " ")
            lines.append("\(line) || { echo \(quote("iavf-check vm: insmod \(spec) failed")) >&2; exit 125; }")
        }
        if let dir = workingDirectory {
            lines.append("cd \(quote(dir)) 2>/dev/null || cd /")
        } else {
            lines.append("cd /")
        }
        lines.append("exec " + command.map(quote).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }
}
