// Top-k classes from a model's scores: probabilities, highest first, ties broken by the lower class index.
import Foundation

public struct Prediction: Equatable {
    public var index: Int
    public var label: String
    public var probability: Double
}

/// Numerically stable softmax (subtract the max), in Double.
public func softmax(_ logits: [Float]) -> [Double] {
    guard let maxLogit = logits.max() else { return [] }
    let exps = logits.map { Foundation.exp(Double($0) - Double(maxLogit)) }
    let total = exps.reduce(0, +)
    return exps.map { $0 / total }
}

/// The k most probable classes; labels fall back to "class_<i>" like toolkit.runtimes.classify.
/// Logits are softmaxed; a classifier's probabilities are used as they are.
public func topK(_ scores: Scores, k: Int, labels: [String] = []) -> [Prediction] {
    let probs = scores.probabilities
    let order = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }
    return order.prefix(max(k, 0)).map { i in
        Prediction(index: i, label: i < labels.count ? labels[i] : "class_\(i)", probability: probs[i])
    }
}
