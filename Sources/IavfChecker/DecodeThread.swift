import IavfTrace
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded queue between one producer and one consumer thread (pthread mutex and
/// conditions: the checker's target has no Foundation). `cancel` releases a producer
/// blocked on a full queue once the consumer stops taking.
final class BoundedQueue<T> {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [T] = []
    private let capacity: Int
    private var cancelled = false

    init(capacity: Int) {
        self.capacity = capacity
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(notEmpty, nil)
        pthread_cond_init(notFull, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(notEmpty)
        pthread_cond_destroy(notFull)
        mutex.deallocate()
        notEmpty.deallocate()
        notFull.deallocate()
    }

    /// Waits for room; false when the consumer has cancelled.
    func put(_ x: T) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while items.count >= capacity && !cancelled { pthread_cond_wait(notFull, mutex) }
        guard !cancelled else { return false }
        items.append(x)
        pthread_cond_signal(notEmpty)
        return true
    }

    func take() -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while items.isEmpty { pthread_cond_wait(notEmpty, mutex) }
        let x = items.removeFirst()
        pthread_cond_signal(notFull)
        return x
    }

    /// The next item if there is one, without waiting.
    func tryTake() -> T? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !items.isEmpty else { return nil }
        let x = items.removeFirst()
        pthread_cond_signal(notFull)
        return x
    }

    /// Adds the item if there is room, without waiting; false (the item stays the
    /// caller's) when the queue is full or cancelled.
    func tryPut(_ x: T) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard items.count < capacity, !cancelled else { return false }
        items.append(x)
        pthread_cond_signal(notEmpty)
        return true
    }

    func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        items.removeAll()
        pthread_cond_broadcast(notFull)
        pthread_mutex_unlock(mutex)
    }
}

/// A thread running one closure, joined once.
final class JoinableThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    #if canImport(Glibc)
    private var thread = pthread_t()
    #else
    private var thread: pthread_t?
    #endif
    private var joined = false

    init?(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { p in
            Unmanaged<Box>.fromOpaque(p!).takeRetainedValue().body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
    }

    func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Glibc)
        pthread_join(thread, nil)
        #else
        if let t = thread { pthread_join(t, nil) }
        #endif
    }

    deinit { join() }
}

/// Events decoded on a thread of their own, in batches, for a consumer on another: the
/// two halves of `check` (decode, check) then run on two cores. A consumed batch goes back
/// to the decoding thread (`recycle`), which destroys its events there and refills it: the
/// events' lists were allocated on that thread, and freeing them is work the checking
/// thread, the busier of the two, is spared.
final class DecodedBatches {
    /// A batch's events, fed to the consumer in place (`feed`): no copy and release per
    /// event. Whatever is left in it is destroyed when it is refilled or released.
    final class Events {
        let base: UnsafeMutablePointer<TraceEvent>
        /// The line of each event (for errors the checker raises on it).
        let lines: UnsafeMutablePointer<Int>
        // Touched once per event, by one thread at a time (the queues hand the batch over).
        @exclusivity(unchecked) private(set) var count = 0
        init(capacity: Int) {
            base = .allocate(capacity: capacity)
            lines = .allocate(capacity: capacity)
        }
        /// Decodes the reader's next event into the next slot; false at the end of the trace.
        func append(from reader: TraceReader) throws -> Bool {
            guard try reader.decodeNext(into: base + count) else { return false }
            lines[count] = reader.line
            count += 1
            return true
        }
        /// Hands event `j` to `body` without copying it: moved out and back in.
        @inline(__always)
        func feed(_ j: Int, _ body: (TraceEvent) -> Void) {
            let e = (base + j).move()
            body(e)
            (base + j).initialize(to: consume e)
        }
        /// Destroys the events, for the batch to be filled again: one at a time, which the
        /// compiler makes a release of the event's list if it has one; `deinitialize(count:)`
        /// of many went through the runtime's generic destroy, a call per event.
        func clear() {
            for i in 0..<count { _ = (base + i).move() }
            count = 0
        }
        deinit {
            clear()
            base.deallocate()
            lines.deallocate()
        }
    }

    struct Batch {
        var events: Events
        /// The reader's error after the batch's events, if it stopped on one.
        var error: Error?
        var last = false
    }

    static let batchSize = 4096
    /// Up to 32 batches (about 10 MB of events) in flight: room to ride out either thread
    /// being descheduled on a busy machine.
    private let queue = BoundedQueue<Batch>(capacity: 32)
    /// Consumed batches on their way back to the decoding thread.
    private let returned = BoundedQueue<Events>(capacity: 40)
    private var thread: JoinableThread?

    /// Starts decoding `reader` (its header already read); nil if no thread could be made.
    init?(_ reader: TraceReader) {
        let queue = self.queue, returned = self.returned
        func batch() -> Batch {
            let events: Events
            if let used = returned.tryTake() { used.clear(); events = used } else { events = Events(capacity: DecodedBatches.batchSize) }
            reader.forgetLists()
            return Batch(events: events)
        }
        thread = JoinableThread {
            var b = batch()
            do {
                while try b.events.append(from: reader) {
                    if b.events.count == Self.batchSize {
                        guard queue.put(b) else { return }
                        b = batch()
                    }
                }
                b.last = true
            } catch {
                b.error = error
                b.last = true
            }
            _ = queue.put(b)
        }
        if thread == nil { return nil }
    }

    func next() -> Batch { queue.take() }

    /// A consumed batch's events, back to the decoding thread to destroy and refill (or,
    /// when it has enough already, destroyed here).
    func recycle(_ events: Events) { _ = returned.tryPut(events) }

    /// Stops the decoder (if it is still going) and waits for it: after this the reader
    /// is the caller's again.
    func finish() {
        queue.cancel()
        returned.cancel()
        thread?.join()
    }

    deinit { finish() }
}
