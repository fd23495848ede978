import IavfSystem
import CIavfShim
#if canImport(Glibc)
import Glibc
#endif

/// Owns one libbpf `bpf_object` (through the shim). Links and ring buffers made
/// from it keep it alive, so it is always freed last; deinit frees everything.
public final class BPFObject {
    let raw: OpaquePointer
    public let name: String
    /// Kept alive for libbpf, which may refer to the ELF image while the object is open.
    private let image: [UInt8]

    public struct Program: Sendable, Hashable {
        public let index: Int32
        public let name: String
        public let section: String
        /// "fentry", "fexit", "kprobe", "kretprobe", "raw_tp", "syscall", ...
        public var attachKind: String { String(section.split(separator: "/").first ?? "") }
        /// The kernel function or tracepoint after the kind, if any.
        public var target: String? {
            let parts = section.split(separator: "/", maxSplits: 1)
            return parts.count == 2 ? String(parts[1]) : nil
        }
    }

    public init(elf: [UInt8], name: String) throws {
        LibbpfLog.install()
        LibbpfLog.clear()
        image = elf
        var out: OpaquePointer?
        let rc = image.withUnsafeBytes { buf in
            iavfshim_object_open_mem(buf.baseAddress, buf.count, name, &out)
        }
        try shimCheck(rc, "open BPF object \(name)")
        guard let out else { throw ProbeError(operation: "open BPF object \(name)", errno: EINVAL) }
        raw = out
        self.name = name
    }

    deinit { iavfshim_object_close(raw) }

    public var programs: [Program] {
        (0..<iavfshim_program_count(raw)).map { i in
            Program(index: i,
                    name: String(cString: iavfshim_program_name(raw, i)),
                    section: String(cString: iavfshim_program_section(raw, i)))
        }
    }

    /// The program of this object with that (generated, typed) name, or nil.
    public func program(_ name: some BPFProgramName) -> Program? { programs.first { $0.name == name.rawValue } }

    public func setAutoload(_ program: Program, _ on: Bool) throws {
        try shimCheck(iavfshim_program_set_autoload(raw, program.index, on), "autoload \(program.name)")
    }

    public func autoload(_ program: Program) -> Bool { iavfshim_program_autoload(raw, program.index) }

    public var isLoaded: Bool { iavfshim_object_loaded(raw) }

    /// Set a `const volatile` knob (or any global) before load. The value's size must be the
    /// variable's.
    public func setGlobal<T>(_ variable: some BPFGlobalName, _ value: T) throws {
        let (name, section) = (variable.rawValue, variable.section)
        var v = value
        let rc = withUnsafeBytes(of: &v) { b in
            iavfshim_global_set(raw, section, name, b.baseAddress, b.count)
        }
        try shimCheck(rc, "set \(section) \(name)")
    }

    /// Read a global of .bss/.data after load.
    public func global<T>(_ variable: some BPFGlobalName, as type: T.Type, initial: T) throws -> T {
        let (name, section) = (variable.rawValue, variable.section)
        var v = initial
        let rc = withUnsafeMutableBytes(of: &v) { b in
            iavfshim_global_get(raw, section, name, b.baseAddress, b.count)
        }
        try shimCheck(rc, "read \(section) \(name)")
        return v
    }

    public func setMaxEntries(map: some BPFMapName, _ n: UInt32) throws {
        try shimCheck(iavfshim_map_set_max_entries(raw, map.rawValue, n), "resize map \(map.rawValue)")
    }

    public func load() throws {
        LibbpfLog.clear()
        try shimCheck(iavfshim_object_load(raw), "load BPF object \(name)")
    }

    public func programID(_ program: Program) -> UInt32? {
        let id = iavfshim_program_id(raw, program.index)
        return id > 0 ? UInt32(id) : nil
    }

    /// (runs, total ns) from the kernel's run-time stats (zero unless stats are enabled).
    public func stats(_ program: Program) -> (runs: UInt64, nanoseconds: UInt64)? {
        var c: UInt64 = 0, t: UInt64 = 0
        return iavfshim_program_stats(raw, program.index, &c, &t) == 0 ? (c, t) : nil
    }

    public func testRun(_ program: Program) throws -> Int32 {
        var r: Int32 = 0
        try shimCheck(iavfshim_program_test_run(raw, program.index, &r), "test-run \(program.name)")
        return r
    }

    public func attach(_ program: Program) throws -> BPFLink {
        LibbpfLog.clear()
        var out: OpaquePointer?
        try shimCheck(iavfshim_link_attach(raw, program.index, &out), "attach \(program.name) (\(program.section))")
        return BPFLink(raw: out!, object: self, program: program)
    }

    public func update<K, V>(map: some BPFMapName, key: K, value: V) throws {
        var k = key, v = value
        let rc = withUnsafeBytes(of: &k) { kb in
            withUnsafeBytes(of: &v) { vb in
                iavfshim_map_update(raw, map.rawValue, kb.baseAddress, kb.count, vb.baseAddress, vb.count)
            }
        }
        try shimCheck(rc, "update map \(map.rawValue)")
    }

    /// Write raw bytes as the value of an array map's key 0.
    public func updateBytes(map: some BPFMapName, key: UInt32 = 0, bytes: [UInt8]) throws {
        var k = key
        let rc = withUnsafeBytes(of: &k) { kb in
            bytes.withUnsafeBytes { vb in
                iavfshim_map_update(raw, map.rawValue, kb.baseAddress, kb.count, vb.baseAddress, vb.count)
            }
        }
        try shimCheck(rc, "update map \(map.rawValue)")
    }

    /// Sum over CPUs of a per-CPU u64 counter.
    public func perCPUSum(map: some BPFMapName, key: UInt32 = 0) throws -> UInt64 {
        var s: UInt64 = 0
        try shimCheck(iavfshim_percpu_u64_sum(raw, map.rawValue, key, &s), "read per-CPU map \(map.rawValue)")
        return s
    }
}

/// Owns one attachment. The kernel side is an fd: when this is released (or the
/// process dies, even by SIGKILL) the kernel detaches the program.
public final class BPFLink {
    private var raw: OpaquePointer?
    public let object: BPFObject
    public let program: BPFObject.Program

    init(raw: OpaquePointer, object: BPFObject, program: BPFObject.Program) {
        self.raw = raw
        self.object = object
        self.program = program
    }

    /// Kernel link id (nil for attachments that are not BPF links).
    public var id: UInt32? {
        guard let raw else { return nil }
        let id = iavfshim_link_id(raw)
        return id > 0 ? UInt32(id) : nil
    }

    public var isAttached: Bool { raw != nil }

    public func detach() {
        if let raw { iavfshim_link_destroy(raw) }
        raw = nil
    }

    deinit { detach() }
}

/// Owns a libbpf ring_buffer on a map of `object`; records go to `sink`.
public final class RingBuffer {
    private var raw: OpaquePointer?
    public let object: BPFObject
    private let sink: RecordSink

    /// Receives raw records; return false to stop the poll early.
    public final class RecordSink {
        let body: (UnsafeRawBufferPointer) -> Bool
        public init(_ body: @escaping (UnsafeRawBufferPointer) -> Bool) { self.body = body }
    }

    public init(object: BPFObject, map: some BPFMapName, sink: RecordSink) throws {
        let map = map.rawValue
        self.object = object
        self.sink = sink
        var out: OpaquePointer?
        let ctx = Unmanaged.passUnretained(sink).toOpaque()
        try shimCheck(iavfshim_ringbuf_new(object.raw, map, ringBufferCallback, ctx, &out), "open ring buffer \(map)")
        raw = out
        // A stop request (SIGINT/SIGTERM) wakes a blocked poll, whichever thread took the signal.
        if StopSignal.wakeFD >= 0 {
            try shimCheck(iavfshim_ringbuf_add_wake_fd(out, StopSignal.wakeFD), "add the stop pipe to ring buffer \(map)")
        }
    }

    /// Wait up to `timeoutMs` and hand every available record to the sink.
    /// Returns the number of records, or -EINTR when a signal interrupted the wait (a stop
    /// request ends the wait too, see `StopSignal`).
    @discardableResult
    public func poll(timeoutMs: Int32) throws -> Int32 {
        guard let raw else { return 0 }
        let n = iavfshim_ringbuf_poll(raw, timeoutMs)
        if n == -EINTR || n == -ECANCELED { return n }
        return try shimCheck(n, "poll ring buffer")
    }

    /// Drain without waiting.
    @discardableResult
    public func consume() throws -> Int32 {
        guard let raw else { return 0 }
        let n = iavfshim_ringbuf_consume(raw)
        if n == -ECANCELED { return n }
        return try shimCheck(n, "drain ring buffer")
    }

    public func close() {
        if let raw { iavfshim_ringbuf_free(raw) }
        raw = nil
    }

    deinit { close() }
}

private let ringBufferCallback: iavfshim_record_fn = { ctx, data, size in
    let sink = Unmanaged<RingBuffer.RecordSink>.fromOpaque(ctx!).takeUnretainedValue()
    return sink.body(UnsafeRawBufferPointer(start: data, count: size)) ? 0 : -ECANCELED
}
