import IavfSystem
import CZlib
import IavfModel

/// Bad input: the contract's exit 2. The description names the file, line and field.
public struct TraceReadError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int
    public var field: String?
    public var message: String

    public init(file: String, line: Int, field: String?, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        let loc = line > 0 ? "\(file):\(line)" : file
        if let field { return "\(loc): field '\(field)': \(message)" }
        return "\(loc): \(message)"
    }
}

/// Streams a trace (plain or gzip, decided by its content, not its name) one event at a
/// time in constant memory. Validates what the contract calls bad input: the header,
/// required fields and types, `seq` strictly increasing, `t_ns` non-decreasing.
public final class TraceReader {
    public let path: String
    public private(set) var header: TraceHeader!
    /// Line number of the last line read (1 is the header).
    // The hot fields skip the runtime's exclusivity checks (two per event otherwise, a tenth of
    // the decoder's time): only the one thread that owns the reader touches them.
    @exclusivity(unchecked) public private(set) var line = 0
    /// `ev` kinds this reader skipped, with how often (one warning each is the caller's job).
    @exclusivity(unchecked) public private(set) var unknownKinds: [String: Int] = [:]

    private var file: gzFile?
    /// A plain (not gzip) file is read straight into the buffer: zlib's transparent mode
    /// would copy every byte once more through its own.
    private var plainFD: Int32 = -1
    @exclusivity(unchecked) private var buffer: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private var start = 0
    @exclusivity(unchecked) private var end = 0
    @exclusivity(unchecked) private var eof = false
    @exclusivity(unchecked) private var decoder = EventDecoder()
    @exclusivity(unchecked) private var lastSeq: Int64?
    @exclusivity(unchecked) private var lastT: Int64?
    private static let maxLine = 64 << 20

    /// Opens `path` ("-" is standard input) and reads its header.
    public init(path: String, bufferSize: Int = 1 << 20) throws {
        self.path = path
        capacity = bufferSize
        // One byte more for the 0 after the data (see `fill`).
        buffer = .allocate(byteCount: capacity + 1, alignment: 16)
        buffer.storeBytes(of: 0, as: UInt8.self)
        if path == "-" {
            file = gzdopen(dup(0), "rb")
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                var magic: (UInt8, UInt8) = (0, 0)
                let n = withUnsafeMutableBytes(of: &magic) { pread(fd, $0.baseAddress, 2, 0) }
                if n == 2 && magic == (0x1f, 0x8b) {
                    file = gzdopen(fd, "rb")
                    if file == nil { closeFD(fd) }
                } else {
                    plainFD = fd
                }
            }
        }
        guard file != nil || plainFD >= 0 else {
            let e = errno
            // Every stored property is set, so deinit runs and frees the buffer.
            throw TraceReadError(file: path, line: 0, field: nil,
                                 message: "cannot open: \(String(cString: strerror(e)))")
        }
        if let file { gzbuffer(file, 256 << 10) }
        do {
            guard let first = try nextLine() else {
                throw TraceReadError(file: path, line: 1, field: nil, message: "empty file: line 1 must be the trace header")
            }
            header = try wrap { try decoder.header(first) }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        buffer.deallocate()
    }

    private func close() {
        if let f = file { gzclose(f); file = nil }
        if plainFD >= 0 { closeFD(plainFD); plainFD = -1 }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ScanError {
            throw TraceReadError(file: path, line: line, field: e.field, message: e.message)
        }
    }

    /// Drops the lists the decoder keeps to hand out again. An event's list is then shared
    /// only with events decoded after it up to the next call: a consumer on another thread
    /// (`check`'s checking thread, a batch behind) then never counts references on an array
    /// the decoding thread is still handing out, which made both threads wait for its cache line.
    public func forgetLists() { decoder.scratch.forget() }

    /// The next event, or nil at the end of the trace. Blank lines are skipped.
    public func next() throws -> TraceEvent? {
        try withUnsafeTemporaryAllocation(of: TraceEvent.self, capacity: 1) { buf in
            try decodeNext(into: buf.baseAddress!) ? buf.baseAddress!.move() : nil
        }
    }

    /// The next event made in `out` (uninitialized memory), or false at the end of the trace:
    /// for a consumer that keeps events in memory of its own, without a copy of each.
    public func decodeNext(into out: UnsafeMutablePointer<TraceEvent>) throws -> Bool {
        // A line in the writer's layout, decoded in place; anything else (another layout, a
        // line not whole in the buffer yet, the end) goes the general way below.
        if start < end {
            let p = UnsafePointer((buffer + start).assumingMemoryBound(to: UInt8.self))
            if let newline = decoder.fastLine(from: p, limit: p + (end - start), into: out) {
                start += newline - p + 1
                line += 1
                try accept(out)
                return true
            }
        }
        while let raw = try nextLine() {
            if isBlank(raw) { continue }
            out.initialize(to: try wrap { try decoder.event(raw) })
            try accept(out)
            return true
        }
        return false
    }

    /// Checks an event's order against the one before it (and destroys it if it is out of order).
    @inline(__always)
    private func accept(_ out: UnsafeMutablePointer<TraceEvent>) throws {
        let seq = out.pointee.seq, t = out.pointee.tNs
        if let s = lastSeq, seq <= s {
            out.deinitialize(count: 1)
            throw TraceReadError(file: path, line: line, field: "seq",
                                 message: "\(seq) is not greater than the previous event's \(s) (seq must strictly increase)")
        }
        if let last = lastT, t < last {
            out.deinitialize(count: 1)
            throw TraceReadError(file: path, line: line, field: "t_ns",
                                 message: "\(t) goes back from \(last) (t_ns must not decrease)")
        }
        lastSeq = seq
        lastT = t
        if case .unknown(let k) = out.pointee.body { unknownKinds[k, default: 0] += 1 }
    }

    private func isBlank(_ raw: UnsafeRawBufferPointer) -> Bool {
        for c in raw where !(c == 0x20 || c == 0x09 || c == 0x0d) { return false }
        return true
    }

    /// The next line without its newline, valid until the next call.
    private func nextLine() throws -> UnsafeRawBufferPointer? {
        while true {
            if start < end, let nl = memchr(buffer + start, 0x0a, end - start) {
                let len = buffer.distance(to: nl) - start
                let out = UnsafeRawBufferPointer(start: buffer + start, count: len)
                start += len + 1
                line += 1
                return out
            }
            if eof {
                guard start < end else { return nil }
                let out = UnsafeRawBufferPointer(start: buffer + start, count: end - start)
                start = end
                line += 1
                return out
            }
            try fill()
        }
    }

    /// Reads more into the buffer, and puts a 0 after the data: a run of digits the fast path
    /// scans ends there at the latest.
    private func fill() throws {
        defer { buffer.storeBytes(of: 0, toByteOffset: end, as: UInt8.self) }
        if start > 0 {
            if end > start { memmove(buffer, buffer + start, end - start) }
            end -= start
            start = 0
        }
        if end == capacity {
            guard capacity < Self.maxLine else {
                throw TraceReadError(file: path, line: line + 1, field: nil, message: "line longer than \(Self.maxLine >> 20) MiB")
            }
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2 + 1, alignment: 16)
            bigger.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        if plainFD >= 0 {
            let n = read(plainFD, buffer + end, capacity - end)
            if n < 0 {
                if errno == EINTR { return }
                throw TraceReadError(file: path, line: line + 1, field: nil, message: "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true }
            end += n
            return
        }
        let n = gzread(file, buffer + end, UInt32(capacity - end))
        if n < 0 || (n == 0 && gzeof(file) == 0) {
            var errnum: Int32 = 0
            let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? "read error"
            throw TraceReadError(file: path, line: line + 1, field: nil,
                                 message: "cannot read: \(errnum == Z_ERRNO ? String(cString: strerror(errno)) : msg)")
        }
        if n == 0 {
            // A gzip stream cut short reads as EOF; zlib reports it here.
            var errnum: Int32 = 0
            let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? ""
            if errnum != Z_OK && errnum != Z_STREAM_END {
                throw TraceReadError(file: path, line: line + 1, field: nil, message: "corrupt compressed data: \(msg)")
            }
            eof = true
        }
        end += Int(n)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TraceReadError: ToolError {
    public var exitStatus: Int32 { ExitStatus.badInput }
}

private func closeFD(_ fd: Int32) { _ = close(fd) }
