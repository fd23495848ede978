import Foundation

/// The guest's serial console as timestamped lines (host seconds since qemu started), with the
/// markers of the /init protocol and the kernel's crash signatures picked out.
public struct ConsoleLog: Sendable {
    public struct Line: Sendable, Equatable {
        public var time: Double
        public var text: String
    }

    public private(set) var lines: [Line] = []
    private var partial = [UInt8]()
    /// Lines kept in memory; older ones are dropped (the tail is what matters for errors).
    let capacity: Int

    public init(capacity: Int = 20_000) { self.capacity = capacity }

    /// Adds raw console bytes; returns the complete lines they finished.
    @discardableResult
    public mutating func append(_ bytes: [UInt8], at time: Double) -> [Line] {
        var finished: [Line] = []
        for byte in bytes {
            if byte == 0x0a {
                finished.append(Line(time: time, text: Self.clean(partial)))
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
            }
        }
        lines.append(contentsOf: finished)
        if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        return finished
    }

    /// Flushes an unterminated last line (qemu killed mid-line).
    public mutating func finish(at time: Double) {
        if !partial.isEmpty {
            lines.append(Line(time: time, text: Self.clean(partial)))
            partial.removeAll()
        }
    }

    /// Drops carriage returns, terminal escape sequences (SeaBIOS) and other control bytes.
    static func clean(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1b {
                i += 1
                if i < bytes.count && bytes[i] == UInt8(ascii: "[") {
                    i += 1
                    while i < bytes.count && !(0x40...0x7e).contains(bytes[i]) { i += 1 }
                }
                i += 1
                continue
            }
            if b >= 0x20 || b == 0x09 { out.append(b) }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The last `count` lines as `[  6.505] text`.
    public func tail(_ count: Int = 40) -> String {
        lines.suffix(count).map(Self.render).joined(separator: "\n")
    }

    public var text: String { lines.map(Self.render).joined(separator: "\n") + "\n" }

    static func render(_ line: Line) -> String { String(format: "[%8.3f] ", line.time) + line.text }

    /// Kernel messages that mean the guest is dead or dying.
    static let crashSignatures = ["Kernel panic - not syncing", "Oops:", "BUG: ", "kernel BUG at",
                                  "general protection fault", "watchdog: BUG: soft lockup",
                                  "Unable to handle kernel", "RIP: "]

    /// The first crash line, if any.
    public var crashLine: String? {
        lines.first { line in Self.crashSignatures.contains { line.text.contains($0) } }?.text
            .trimmingCharacters(in: .whitespaces)
    }

    /// The reason after `VM_INIT_FAILED:`, if /init gave up.
    public var initFailure: String? {
        guard let line = lines.first(where: { $0.text.contains("VM_INIT_FAILED:") }) else { return nil }
        return line.text.components(separatedBy: "VM_INIT_FAILED:").last?.trimmingCharacters(in: .whitespaces)
    }

    /// The time the `VM_CMD_BEGIN` marker arrived.
    public var commandStart: Double? { lines.first { $0.text.hasSuffix("VM_CMD_BEGIN") }?.time }

    /// N from `VM_EXIT_STATUS=N` (the fallback when the exit_status file is missing).
    public var exitStatusMarker: Int32? {
        for line in lines.reversed() {
            if let r = line.text.range(of: "VM_EXIT_STATUS=") { return Int32(line.text[r.upperBound...]) }
        }
        return nil
    }
}
