#if canImport(Glibc)
import Glibc
#endif

/// Files named on the command line, directories expanded one level (a libFuzzer corpus).
public func replayInputs(_ args: [String]) -> [String] {
    var out: [String] = []
    for a in args {
        guard let dir = opendir(a) else { out.append(a); continue }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasPrefix(".") { continue }
            names.append(a + "/" + name)
        }
        closedir(dir)
        out += names.sorted()
    }
    return out
}
