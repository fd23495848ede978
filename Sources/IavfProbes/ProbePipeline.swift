import IavfSystem
import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One loaded BPF object, its links and its ring buffer, with the decoder in
/// front: records become ProbeStreamItems (events and `lost` markers).
///
/// Ownership: the pipeline owns the links and the ring buffer, which own the
/// object. `close()` (or deinit) detaches every link first, drains what is
/// left in the ring buffer, then frees everything. Links are kernel fds, so a
/// process killed by SIGKILL leaves no probe behind either.
public final class ProbePipeline {
    public let object: BPFObject
    public private(set) var links: [BPFLink] = []
    public let decoder: ProbeEventDecoder
    public private(set) var malformed: UInt64 = 0
    public private(set) var delivered: UInt64 = 0
    private var ring: RingBuffer?
    private var loss = LossTracker()
    private var handler: ((ProbeStreamItem) -> Bool)?
    private var wantStop = false
    private var closed = false

    /// The ring buffer and the per-CPU drop counter (iavf_common.bpf.h gives every object both).
    public let eventsMap: any BPFMapName
    public let dropsMap: any BPFMapName

    init(object: BPFObject, decoder: ProbeEventDecoder, events: some BPFMapName, drops: some BPFMapName) {
        self.object = object
        self.decoder = decoder
        self.eventsMap = events
        self.dropsMap = drops
    }

    /// Attach every loaded program whose name passes `filter`. Stops at the first failure.
    public func attachAll(where filter: (BPFObject.Program) -> Bool = { _ in true }) throws {
        for p in object.programs where object.autoload(p) && filter(p) && p.attachKind != "syscall" {
            links.append(try object.attach(p))
        }
    }

    public func attach(_ program: BPFObject.Program) throws -> BPFLink {
        let l = try object.attach(program)
        links.append(l)
        return l
    }

    /// Detach everything (no new records), keeping the ring buffer for a final drain.
    public func detachAll() {
        for l in links { l.detach() }
    }

    /// Records dropped in the kernel so far (sum of the per-CPU counter).
    public func dropCount() throws -> UInt64 { try object.perCPUSum(map: dropsMap) }

    /// Set the receiver of items. Return false from it to stop the loop.
    public func setHandler(_ h: @escaping (ProbeStreamItem) -> Bool) throws {
        handler = h
        if ring == nil {
            let sink = RingBuffer.RecordSink { [unowned(unsafe) self] bytes in self.handle(bytes) }
            ring = try RingBuffer(object: object, map: eventsMap, sink: sink)
        }
    }

    @inline(__always)
    private func handle(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let handler else { return true }
        let ev: ProbeEvent
        do {
            ev = try decoder.decode(bytes)
        } catch {
            malformed += 1
            return true
        }
        let lost = loss.observe(cpu: Int(ev.cpu), drops: ev.cpuDrops)
        var go = true
        if lost > 0 { go = handler(.lost(count: lost)) }
        delivered += 1
        if !handler(.event(ev)) { go = false }
        if !go { wantStop = true }
        return go
    }

    /// One poll: wait up to `timeoutMs`, deliver what arrived. Returns records handled
    /// (0 on timeout or signal).
    @discardableResult
    public func pollOnce(timeoutMs: Int32) throws -> Int {
        guard let ring else { throw ProbeError(operation: "poll", errno: EINVAL, hint: "setHandler first") }
        let n = try ring.poll(timeoutMs: timeoutMs)
        return n > 0 ? Int(n) : 0
    }

    /// Deliver until `shouldStop()` is true, the handler returns false, or SIGINT/SIGTERM
    /// arrives (when `stopOnSignals`; `StopSignal.received` tells which). Then detach, drain,
    /// and report final losses.
    public func run(stopOnSignals: Bool = true, pollTimeoutMs: Int32 = 100,
                    shouldStop: () -> Bool = { false }) throws {
        if stopOnSignals {
            StopSignal.reset()
            try StopSignal.install()
        }
        defer { if stopOnSignals { StopSignal.restore() } }
        wantStop = false
        while !wantStop && !shouldStop() && (!stopOnSignals || StopSignal.received == nil) {
            try pollOnce(timeoutMs: pollTimeoutMs)
        }
        try finish()
    }

    /// Hand whatever is in the ring buffer to the handler now, without waiting.
    public func drainPending() throws {
        _ = try ring?.consume()
    }

    /// Detach, drain the ring buffer into the handler, and emit a `lost` for drops
    /// not yet reported. Safe to call more than once.
    public func finish() throws {
        detachAll()
        if let ring {
            wantStop = false
            _ = try ring.consume()
        }
        if let total = try? dropCount() {
            let r = loss.remainder(totalDrops: total)
            if r > 0 { _ = handler?(.lost(count: r)) }
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        detachAll()
        links.removeAll()
        ring?.close()
        ring = nil
        handler = nil
    }

    deinit { close() }

    /// Kernel ids of the attached programs and links (for leak checks).
    public var kernelIDs: (programs: [UInt32], links: [UInt32]) {
        let progs = object.programs.filter { object.autoload($0) }.compactMap { object.programID($0) }
        return (progs, links.compactMap(\.id))
    }
}

extension ProbePipeline {
    /// An AsyncSequence view: polls on a dedicated thread until the consumer stops
    /// iterating, `stop()` is called, or a signal arrives. The pipeline must not be
    /// used from elsewhere meanwhile.
    public func stream(stopOnSignals: Bool = true) -> AsyncThrowingStream<ProbeStreamItem, Error> {
        AsyncThrowingStream { continuation in
            let stopFlag = StopFlag()
            continuation.onTermination = { _ in stopFlag.set() }
            let thread = Thread { [self] in
                do {
                    try self.setHandler { item in
                        if case .terminated = continuation.yield(item) { return false }
                        return true
                    }
                    try self.run(stopOnSignals: stopOnSignals, shouldStop: { stopFlag.isSet })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "iavf-probe-poll"
            thread.start()
        }
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
