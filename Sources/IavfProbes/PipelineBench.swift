import CIavfBenchConsumer
import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bench pipeline`: how many records per second reach Swift decoded, next to a
/// minimal C consumer of the same BPF object in the same run.
///
/// Two kinds of measurement, because a producer on the same machine disturbs the
/// consumer it feeds: when a consumer has caught up and sleeps, every record wakes it
/// (irq_work on the producer's CPU), which slows the producer; a consumer that lags
/// never sleeps and the producer runs unhindered.
/// - live (what the target is judged on): a producer thread flat out, first against
///   the C consumer, then against Swift; `c_events_per_s`, `swift_events_per_s`, `ratio`.
///   Then the producer paced to the rate C sustained, against Swift:
///   `swift_lost_at_c_rate` must be 0.
/// - drain: the ring filled with no consumer running, then drained by C and by Swift in
///   turn, `rounds` times (medians): each consumer's own cost per record, with nothing
///   else running. C only counts; Swift decodes every record into a ProbeEvent.
public struct PipelineBenchResult: Codable, Sendable {
    /// Records per live run.
    public var events: UInt64
    public var record_bytes: Int
    public var burst: UInt64
    /// Live, producer flat out: records per second each consumer received.
    public var swift_events_per_s: Double
    public var c_events_per_s: Double
    /// swift_events_per_s / c_events_per_s.
    public var ratio: Double
    /// Lost in the live runs: C's, and Swift's (flat out; the producer can outrun any consumer).
    public var c_lost: UInt64
    public var swift_lost: UInt64
    /// Live, producer paced to `c_events_per_s`, Swift consumer.
    public var swift_received_at_c_rate: UInt64
    public var swift_lost_at_c_rate: UInt64
    /// What the target is judged on: `c_lost + swift_lost_at_c_rate`.
    public var lost: UInt64
    /// ratio >= 0.8 and nothing lost at the rate C sustains.
    public var target_met: Bool
    /// Drain: records per drain round (the ring's capacity less a margin), rounds, medians.
    public var drain_events: UInt64
    public var rounds: Int
    public var swift_drain_events_per_s: Double
    public var c_drain_events_per_s: Double
    public var swift_drain_rounds: [Double]
    public var c_drain_rounds: [Double]
    /// How far Swift's own drain rate is above the rate C sustains live.
    public var swift_headroom: Double
    public var ns_per_program_run: Double?
    public var program_runs: UInt64?
}

public enum PipelineBench {
    public static let targetRatio = 0.8

    /// The whole bench. `events`: records per live run; `rounds`: drain rounds per consumer.
    public static func run(events: UInt64 = 2_000_000, burst: UInt64 = 64, rounds: Int = 7,
                           ringBufferBytes: UInt32 = 1 << 24, timeoutSeconds: Double = 60,
                           progress: (String) -> Void = { _ in }) throws -> PipelineBenchResult {
        let statsFD = iavfshim_stats_enable() // run-time stats while the bench runs (closed below)
        defer { iavfshim_close_fd(statsFD) }
        let st = try SelftestPipeline(ringBufferBytes: ringBufferBytes)
        defer { st.close() }
        let burst = min(max(burst, 1), SelftestPipeline.maxBurst)
        let c = try CBenchConsumer(st.pipeline)
        let swift = try SwiftBenchConsumer(st.pipeline)

        // Drain rounds, alternating so drift in the machine's load hits both alike.
        let recordBytes = MemoryLayout<iavf_ev_bench>.size
        let capacity = UInt64(ringBufferBytes) / UInt64((recordBytes + 8 + 7) & ~7)
        let fill = capacity * 9 / 10
        var cRates: [Double] = [], sRates: [Double] = []
        for r in 0..<max(rounds, 1) {
            progress("drain round \(r + 1)/\(rounds): \(fill) records")
            let n1 = try prefill(st, fill)
            let cr = try c.run(target: n1, busy: true, timeoutSeconds: timeoutSeconds)
            guard cr.received == n1 else { throw shortDrain("C", cr.received, n1) }
            cRates.append(Double(cr.received) / cr.seconds)
            let n2 = try prefill(st, fill)
            let sr = try swift.run(target: n2, busy: true, timeoutSeconds: timeoutSeconds)
            guard sr.received == n2 else { throw shortDrain("Swift", sr.received, n2) }
            sRates.append(Double(sr.received) / sr.seconds)
        }
        let cRate = median(cRates), sRate = median(sRates)

        progress("live: C consumer, producer flat out, \(events) records")
        let cLive = try live(st, events: events, burst: burst) {
            try c.run(target: events, busy: false, timeoutSeconds: timeoutSeconds)
        }
        let cLiveRate = Double(cLive.received) / cLive.seconds
        progress("live: Swift consumer, producer flat out")
        let sLive = try live(st, events: events, burst: burst) {
            try swift.run(target: events, busy: false, timeoutSeconds: timeoutSeconds)
        }
        let sLiveRate = Double(sLive.received) / sLive.seconds
        progress(String(format: "live: Swift consumer, producer paced to %.0f records/s", cLiveRate))
        let paced = try live(st, events: events, burst: burst, pace: cLiveRate) {
            try swift.run(target: events, busy: false, timeoutSeconds: timeoutSeconds)
        }

        var nsPerRun: Double?
        var runs: UInt64?
        if let s = st.pipeline.object.stats(st.program), s.runs > 0, s.nanoseconds > 0 {
            nsPerRun = Double(s.nanoseconds) / Double(s.runs)
            runs = s.runs
        }
        let ratio = cLiveRate > 0 ? sLiveRate / cLiveRate : 0
        let lost = cLive.lost + paced.lost
        return PipelineBenchResult(
            events: events, record_bytes: recordBytes, burst: burst,
            swift_events_per_s: sLiveRate, c_events_per_s: cLiveRate, ratio: ratio,
            c_lost: cLive.lost, swift_lost: sLive.lost,
            swift_received_at_c_rate: paced.received, swift_lost_at_c_rate: paced.lost,
            lost: lost, target_met: ratio >= targetRatio && lost == 0,
            drain_events: fill, rounds: cRates.count,
            swift_drain_events_per_s: sRate, c_drain_events_per_s: cRate,
            swift_drain_rounds: sRates, c_drain_rounds: cRates,
            swift_headroom: cLiveRate > 0 ? sRate / cLiveRate : 0,
            ns_per_program_run: nsPerRun, program_runs: runs)
    }

    struct RunResult {
        var received: UInt64
        var lost: UInt64
        var seconds: Double
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func shortDrain(_ who: String, _ got: UInt64, _ want: UInt64) -> ProbeError {
        ProbeError(operation: "\(who) drain", errno: EIO,
                   hint: "received \(got) of the \(want) records written: the machine may be too loaded, try again")
    }

    /// Write `count` records with no consumer running; returns how many the ring took.
    static func prefill(_ st: SelftestPipeline, _ count: UInt64) throws -> UInt64 {
        let d0 = try st.pipeline.dropCount()
        var sent: UInt64 = 0
        while sent < count {
            let n = min(SelftestPipeline.maxBurst, count - sent)
            st.triggerBench(count: n, value: sent)
            sent += n
        }
        return count - (try st.pipeline.dropCount() - d0)
    }

    /// Start a producer thread, run `consume` on this thread.
    /// `pace`: records per second the producer may not exceed (nil: as fast as it can).
    static func live(_ st: SelftestPipeline, events: UInt64, burst: UInt64, pace: Double? = nil,
                     consume: () throws -> RunResult) throws -> RunResult {
        let done = StopFlag()
        let producer = Thread {
            var sent: UInt64 = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            while sent < events && !done.isSet {
                if let pace, pace > 0 {
                    let due = t0 + UInt64(Double(sent) / pace * 1e9)
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now + 20_000 { usleep(UInt32((due - now) / 1000)) }
                }
                let n = min(burst, events - sent)
                st.triggerBench(count: n, value: sent)
                sent += n
            }
        }
        producer.start()
        let r = try consume()
        done.set()
        // Let the producer finish, then drain leftovers so the next run starts clean.
        Thread.sleep(forTimeInterval: 0.05)
        try st.pipeline.drainPending()
        return r
    }
}

/// The minimal C consumer (iavfshim_c_consumer_*), owned.
final class CBenchConsumer {
    private var raw: OpaquePointer?
    private let pipeline: ProbePipeline

    init(_ pipeline: ProbePipeline) throws {
        self.pipeline = pipeline
        var out: OpaquePointer?
        try shimCheck(iavfshim_c_consumer_new(pipeline.object.raw, pipeline.eventsMap.rawValue, &out), "open C bench consumer")
        raw = out
    }

    func run(target: UInt64, busy: Bool, timeoutSeconds: Double) throws -> PipelineBench.RunResult {
        let d0 = try pipeline.dropCount()
        var received: UInt64 = 0, sum: UInt64 = 0, ns: UInt64 = 0
        let rc = iavfshim_c_consumer_run(raw, pipeline.dropsMap.rawValue, target, Int32(timeoutSeconds * 1000), busy,
                                         &received, &sum, &ns)
        if rc < 0 && rc != -ETIMEDOUT {
            throw ProbeError(operation: "C consumer", errno: -rc, libbpfLog: LibbpfLog.text())
        }
        return .init(received: received, lost: try pipeline.dropCount() - d0, seconds: Double(max(ns, 1)) / 1e9)
    }

    deinit { iavfshim_c_consumer_free(raw) }
}

/// The Swift consumer: every record through the pipeline's ring buffer and decoder
/// into a ProbeEvent, as `record` and `watch` receive them.
final class SwiftBenchConsumer {
    private let pipeline: ProbePipeline
    private var got: UInt64 = 0
    private var checksum: UInt64 = 0

    init(_ pipeline: ProbePipeline) throws {
        self.pipeline = pipeline
        try pipeline.setHandler { [unowned(unsafe) self] item in
            if case .event(let e) = item, case .bench(let seq, let value) = e.payload {
                self.checksum &+= seq &+ value &+ e.timestampNs
                self.got += 1
            }
            return true
        }
    }

    func run(target: UInt64, busy: Bool, timeoutSeconds: Double) throws -> PipelineBench.RunResult {
        let d0 = try pipeline.dropCount()
        got = 0
        var drops = d0
        let t0 = DispatchTime.now().uptimeNanoseconds
        let deadline = t0 + UInt64(timeoutSeconds * 1e9)
        while got + (drops - d0) < target {
            _ = try pipeline.pollOnce(timeoutMs: busy ? 0 : 50)
            if got >= target { break }
            drops = try pipeline.dropCount()
            if DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        return .init(received: got, lost: try pipeline.dropCount() - d0, seconds: Double(max(t1 - t0, 1)) / 1e9)
    }
}

/// BPF run-time statistics while an fd is open (BPF_ENABLE_STATS); close it to turn them off.
public enum ProbeStatsSwitch {
    public static func enable() -> Int32 { iavfshim_stats_enable() }
}
