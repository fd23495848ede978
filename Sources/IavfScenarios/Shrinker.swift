/// Shrinks a failing op sequence to a smaller one that still fails (delta debugging,
/// complements only: drop one chunk at a time, halving the chunks when none can go).
///
/// The predicate runs the candidate for real, so it may be flaky (a race that needs luck):
/// give it retries of its own. `maxAttempts` bounds the predicate calls, because each is a
/// run of the real driver.
public struct Shrinker<Item> {
    public var maxAttempts: Int
    public private(set) var attempts = 0
    /// Called after each accepted step with the smaller sequence.
    public var onProgress: ([Item]) -> Void = { _ in }

    public init(maxAttempts: Int) { self.maxAttempts = maxAttempts }

    public mutating func shrink(_ failing: [Item], reproduces: ([Item]) throws -> Bool) rethrows -> [Item] {
        var items = failing
        var chunks = 2
        while items.count > 1 && attempts < maxAttempts {
            let size = (items.count + chunks - 1) / chunks
            var reduced = false
            var start = 0
            while start < items.count && attempts < maxAttempts {
                let candidate = Array(items[..<start] + items[min(start + size, items.count)...])
                attempts += 1
                if !candidate.isEmpty, try reproduces(candidate) {
                    items = candidate
                    onProgress(items)
                    reduced = true
                    break
                }
                start += size
            }
            if reduced {
                chunks = max(chunks - 1, 2)
            } else {
                if size == 1 { break } // every single op is needed
                chunks = min(chunks * 2, items.count)
            }
        }
        return items
    }
}
