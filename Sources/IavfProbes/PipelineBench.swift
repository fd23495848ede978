import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bench pipeline`: how many records per second reach Swift decoded, next to a
/// minimal C consumer of the same BPF object in the same run.
public struct PipelineBenchResult: Codable, Sendable {
    public var events: UInt64
    public var swift_events_per_s: Double
    public var c_events_per_s: Double
    public var ratio: Double
    public var lost: UInt64
    public var swift_lost: UInt64
    public var c_lost: UInt64
    public var record_bytes: Int
    public var burst: UInt64
    /// A third run: the Swift consumer with the producer paced to the C consumer's rate.
    /// Zero means Swift keeps up with what C sustains.
    public var swift_lost_at_c_rate: UInt64
    public var swift_received_at_c_rate: UInt64
    public var ns_per_program_run: Double?
    public var program_runs: UInt64?
}

public enum PipelineBench {
    /// Produce `events` bench records (bursts of `burst` per prctl, on a producer thread)
    /// and consume them, first with the C consumer, then decoded in Swift.
    public static func run(events: UInt64 = 2_000_000, burst: UInt64 = 64,
                           ringBufferBytes: UInt32 = 1 << 24, timeoutSeconds: Double = 60) throws -> PipelineBenchResult {
        let statsFD = iavfshim_stats_enable() // run-time stats while the bench runs (closed below)
        defer { iavfshim_close_fd(statsFD) }
        let st = try SelftestPipeline(ringBufferBytes: ringBufferBytes)
        defer { st.close() }
        let burst = min(max(burst, 1), SelftestPipeline.maxBurst)

        // C consumer.
        let c0 = try st.pipeline.dropCount()
        let cTime = try measure(st: st, events: events, burst: burst) {
            var received: UInt64 = 0, sum: UInt64 = 0
            let rc = iavfshim_bench_c_consume(st.pipeline.object.raw, ProbePipeline.eventsMap, ProbePipeline.dropsMap, events,
                                              Int32(timeoutSeconds * 1000), &received, &sum)
            return (rc, received)
        }
        let cLost = try st.pipeline.dropCount() - c0

        // Swift consumer: full decode to ProbeEvent through the pipeline's ring buffer.
        let s0 = try st.pipeline.dropCount()
        var got: UInt64 = 0
        var checksum: UInt64 = 0
        try st.pipeline.setHandler { item in
            if case .event(let e) = item, case .bench(let seq, let value) = e.payload {
                checksum &+= seq &+ value &+ e.timestampNs
                got += 1
            }
            return true
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let sTime = try measure(st: st, events: events, burst: burst) {
            while got + lostSoFar(st, base: s0) < events && Date() < deadline {
                _ = try? st.pipeline.pollOnce(timeoutMs: 50)
            }
            return (0, got)
        }
        let sLost = try st.pipeline.dropCount() - s0

        // Swift again, the producer paced to what the C consumer sustained.
        let cRateMeasured = Double(cTime.received) / cTime.seconds
        let p0 = try st.pipeline.dropCount()
        got = 0
        let pacedDeadline = Date().addingTimeInterval(timeoutSeconds)
        _ = try measure(st: st, events: events, burst: burst, pace: cRateMeasured) {
            while got + lostSoFar(st, base: p0) < events && Date() < pacedDeadline {
                _ = try? st.pipeline.pollOnce(timeoutMs: 50)
            }
            return (0, got)
        }
        let pacedLost = try st.pipeline.dropCount() - p0
        let pacedGot = got

        var nsPerRun: Double?
        var runs: UInt64?
        if let s = st.pipeline.object.stats(st.program), s.runs > 0, s.nanoseconds > 0 {
            nsPerRun = Double(s.nanoseconds) / Double(s.runs)
            runs = s.runs
        }
        let swiftRate = Double(sTime.received) / sTime.seconds
        let cRate = Double(cTime.received) / cTime.seconds
        return PipelineBenchResult(
            events: events, swift_events_per_s: swiftRate, c_events_per_s: cRate,
            ratio: cRate > 0 ? swiftRate / cRate : 0, lost: cLost + sLost, swift_lost: sLost, c_lost: cLost,
            record_bytes: MemoryLayout<iavf_ev_bench>.size, burst: burst,
            swift_lost_at_c_rate: pacedLost, swift_received_at_c_rate: pacedGot,
            ns_per_program_run: nsPerRun, program_runs: runs)
    }

    static func lostSoFar(_ st: SelftestPipeline, base: UInt64) -> UInt64 {
        ((try? st.pipeline.dropCount()) ?? base) - base
    }

    /// Start a producer thread, run `consume` on this thread, time it from the first trigger.
    /// `pace`: records per second the producer may not exceed (nil: as fast as it can).
    static func measure(st: SelftestPipeline, events: UInt64, burst: UInt64, pace: Double? = nil,
                        consume: () throws -> (Int32, UInt64)) throws -> (seconds: Double, received: UInt64) {
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
        let start = DispatchTime.now().uptimeNanoseconds
        producer.start()
        let (rc, received) = try consume()
        let end = DispatchTime.now().uptimeNanoseconds
        done.set()
        if rc < 0 && rc != -ETIMEDOUT {
            throw ProbeError(operation: "C consumer", errno: -rc, libbpfLog: LibbpfLog.text())
        }
        // Let the producer finish and drain leftovers so the next consumer starts clean.
        Thread.sleep(forTimeInterval: 0.05)
        return (Double(end - start) / 1e9, received)
    }
}

/// BPF run-time statistics while an fd is open (BPF_ENABLE_STATS); close it to turn them off.
public enum ProbeStatsSwitch {
    public static func enable() -> Int32 { iavfshim_stats_enable() }
}
