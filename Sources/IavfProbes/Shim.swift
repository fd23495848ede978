import CIavfShim
#if canImport(Glibc)
import Glibc
#endif

/// A libbpf/shim call failed: which operation, the errno, and libbpf's own words.
public struct ProbeError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var errno: Int32
    public var libbpfLog: String
    public var hint: String?

    public init(operation: String, errno: Int32, libbpfLog: String = "", hint: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.libbpfLog = libbpfLog
        self.hint = hint
    }

    public var description: String {
        var s = "\(operation): \(String(cString: strerror(errno))) (errno \(errno))"
        if let hint { s += "; \(hint)" }
        let log = libbpfLog.split(separator: "\n").suffix(6).joined(separator: "\n  ")
        if !log.isEmpty { s += "\n  libbpf: \(log)" }
        return s
    }
}

/// libbpf's message capture (process-wide, as libbpf's print callback is).
public enum LibbpfLog {
    public static func install(debug: Bool = false) { iavfshim_log_install(debug) }
    public static func clear() { iavfshim_log_clear() }
    public static func text(maxBytes: Int = 8192) -> String {
        var buf = [CChar](repeating: 0, count: maxBytes)
        _ = iavfshim_log_copy(&buf, buf.count)
        return String(cString: buf)
    }
}

/// Turns a shim return code into a thrown ProbeError carrying libbpf's log.
@discardableResult
func shimCheck(_ rc: Int32, _ operation: @autoclosure () -> String, hint: String? = nil) throws -> Int32 {
    if rc >= 0 { return rc }
    throw ProbeError(operation: operation(), errno: -rc, libbpfLog: LibbpfLog.text(), hint: hint ?? hintFor(errno: -rc))
}

func hintFor(errno e: Int32) -> String? {
    switch e {
    case EPERM, EACCES:
        return "run as root, or grant CAP_BPF and CAP_PERFMON (setcap cap_bpf,cap_perfmon+ep iavf-check)"
    case ENOENT, ESRCH:
        return "the function or type is absent from this kernel: is iavf loaded (modprobe iavf)?"
    case ENOTSUP, EOPNOTSUPP, EINVAL:
        return nil
    default:
        return nil
    }
}
