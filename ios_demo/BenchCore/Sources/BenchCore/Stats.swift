// Latency statistics, bit for bit equal to toolkit/profile/stats.py.
//
// Every formula mirrors the Python one operation by operation: type-7 percentiles, a trimmed mean that drops
// floor(n * trim) samples from each end, the sample standard deviation (n - 1), sums rounded exactly once
// (Python's math.fsum, ported below), and a percentile bootstrap of the median whose resample indices come
// from SplitMix64 so the confidence interval is the same on the phone as on the host.
import Foundation

public let defaultTrim = 0.1
public let defaultBootstrapResamples = 1000
public let defaultBootstrapSeed: UInt64 = 0x5EED

/// Steele, Lea & Flood's SplitMix64, with wrapping UInt64 arithmetic (Python masks to 64 bits).
public struct SplitMix64 {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func nextU64() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Index in [0, n): next_u64 % n, as the Python and Java harnesses do.
    public mutating func below(_ n: Int) -> Int {
        Int(nextU64() % UInt64(n))
    }
}

public enum StatsError: Error, Equatable, CustomStringConvertible {
    case noSamples

    public var description: String { "no latency samples to summarize" }
}

/// Python's math.fsum (Shewchuk's exact partials, round-half-even correction): the correctly rounded sum.
public func exactSum<S: Sequence>(_ values: S) -> Double where S.Element == Double {
    var partials: [Double] = []
    for value in values {
        var x = value
        var i = 0
        for j in partials.indices {
            var y = partials[j]
            if abs(x) < abs(y) { swap(&x, &y) }
            let hi = x + y
            let lo = y - (hi - x)
            if lo != 0 {
                partials[i] = lo
                i += 1
            }
            x = hi
        }
        partials.removeSubrange(i...)
        partials.append(x)
    }
    var n = partials.count
    guard n > 0 else { return 0 }
    n -= 1
    var hi = partials[n]
    var lo = 0.0
    while n > 0 {
        let x = hi
        n -= 1
        let y = partials[n]
        hi = x + y
        let yr = hi - x
        lo = y - yr
        if lo != 0 { break }
    }
    if n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0)) {
        let y = lo * 2
        let x = hi + y
        let yr = x - hi
        if y == yr { hi = x }
    }
    return hi
}

/// Linear interpolation between closest ranks (numpy's default, "type 7"); q in [0, 100].
public func percentile(sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty, "percentile of no samples")
    let n = sorted.count
    let pos = Double(n - 1) * q / 100.0
    let lo = Int(pos.rounded(.down))
    let hi = min(lo + 1, n - 1)
    let frac = pos - Double(lo)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Mean after dropping floor(n * trim) samples from each end (all kept when that would leave none).
public func trimmedMean(sorted: [Double], trim: Double = defaultTrim) -> Double {
    let n = sorted.count
    let k = Int((Double(n) * trim).rounded(.down))
    let kept = n - 2 * k > 0 ? Array(sorted[k ..< (n - k)]) : sorted
    return exactSum(kept) / Double(kept.count)
}

/// Percentile-bootstrap CI of the median. Pass the samples sorted ascending, as summarize() does.
public func bootstrapMedianCI(
    _ samples: [Double],
    resamples: Int = defaultBootstrapResamples,
    confidence: Double = 0.95,
    seed: UInt64 = defaultBootstrapSeed
) -> (low: Double, high: Double) {
    let n = samples.count
    precondition(n > 0, "bootstrap of no samples")
    var rng = SplitMix64(seed: seed)
    var medians: [Double] = []
    medians.reserveCapacity(resamples)
    var draw = [Double](repeating: 0, count: n)
    for _ in 0 ..< resamples {
        for i in 0 ..< n { draw[i] = samples[rng.below(n)] }
        draw.sort()
        medians.append(percentile(sorted: draw, 50.0))
    }
    medians.sort()
    let tail = (1.0 - confidence) / 2.0 * 100.0
    return (percentile(sorted: medians, tail), percentile(sorted: medians, 100.0 - tail))
}

/// The result schema's "stats" block; every value in milliseconds except n.
public struct LatencyStats: Codable, Equatable {
    public var n: Int
    public var medianMs: Double
    public var p90Ms: Double
    public var meanMs: Double
    public var stdMs: Double
    public var minMs: Double
    public var maxMs: Double
    public var trimmedMeanMs: Double
    public var ci95LowMs: Double
    public var ci95HighMs: Double

    enum CodingKeys: String, CodingKey {
        case n
        case medianMs = "median_ms"
        case p90Ms = "p90_ms"
        case meanMs = "mean_ms"
        case stdMs = "std_ms"
        case minMs = "min_ms"
        case maxMs = "max_ms"
        case trimmedMeanMs = "trimmed_mean_ms"
        case ci95LowMs = "ci95_low_ms"
        case ci95HighMs = "ci95_high_ms"
    }

    /// Half the CI width relative to the median: 0.02 means +-2%.
    public var ciHalfwidthRel: Double {
        medianMs != 0 ? (ci95HighMs - ci95LowMs) / 2.0 / medianMs : .infinity
    }

    public static func summarize(
        _ samplesMs: [Double],
        trim: Double = defaultTrim,
        resamples: Int = defaultBootstrapResamples,
        seed: UInt64 = defaultBootstrapSeed
    ) throws -> LatencyStats {
        let xs = samplesMs.sorted()
        let n = xs.count
        guard n > 0 else { throw StatsError.noSamples }
        let mean = exactSum(xs) / Double(n)
        // d * d, as stats.py and the Java core do: libm pow is not always the rounded square.
        let std = n > 1 ? (exactSum(xs.map { ($0 - mean) * ($0 - mean) }) / Double(n - 1)).squareRoot() : 0.0
        let ci = bootstrapMedianCI(xs, resamples: resamples, confidence: 0.95, seed: seed)
        return LatencyStats(
            n: n,
            medianMs: percentile(sorted: xs, 50.0),
            p90Ms: percentile(sorted: xs, 90.0),
            meanMs: mean,
            stdMs: std,
            minMs: xs[0],
            maxMs: xs[n - 1],
            trimmedMeanMs: trimmedMean(sorted: xs, trim: trim),
            ci95LowMs: ci.low,
            ci95HighMs: ci.high
        )
    }
}
