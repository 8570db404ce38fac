// IEEE 754 binary16 conversions in integer arithmetic, equal bit for bit to numpy's float32 <-> float16.
//
// Written out rather than using Swift's Float16 because Float16 does not exist on Intel Macs, where
// `swift test` must still build; the tests compare these functions with Float16 where it exists.

/// The float16 bit pattern nearest to `value`, ties to even; overflow gives infinity, NaN stays NaN.
public func halfBits(_ value: Float) -> UInt16 {
    let f = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (f >> 16) & 0x8000)
    let exponent = Int((f >> 23) & 0xFF)
    let mantissa = f & 0x7F_FFFF
    if exponent == 0xFF {  // infinity, or NaN with the top of its payload (never a zero payload)
        if mantissa == 0 { return sign | 0x7C00 }
        let payload = UInt16(truncatingIfNeeded: mantissa >> 13)
        return sign | 0x7C00 | (payload == 0 ? 1 : payload)
    }
    let e = exponent - 112  // the half's biased exponent (float bias 127, half bias 15)
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }  // below half the smallest subnormal: rounds to zero
        // subnormal half: the 24-bit significand shifted right by 14 - e, rounded to nearest even
        let significand = mantissa | 0x80_0000
        let shift = UInt32(14 - e)
        return sign | UInt16(truncatingIfNeeded: roundShift(significand, by: shift))
    }
    // normal half; a carry out of the mantissa bumps the exponent (up to infinity), which is right
    return sign | UInt16(truncatingIfNeeded: roundShift(UInt32(e) << 23 | mantissa, by: 13))
}

/// `value >> shift`, rounded to nearest, ties to even.
@inline(__always) private func roundShift(_ value: UInt32, by shift: UInt32) -> UInt32 {
    let kept = value >> shift
    let rest = value & ((1 << shift) - 1)
    let half = UInt32(1) << (shift - 1)
    return rest > half || (rest == half && kept & 1 == 1) ? kept + 1 : kept
}

/// The float32 equal to a float16 bit pattern (every half is exact in float32; NaN keeps its payload).
public func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
    if exponent == 0 {
        // zero or subnormal: mantissa * 2^-24, exact in float32
        let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}
