//! The jobs of the storm, and their exact results: mostly short sleeps, with some prime
//! counts and factorials whose answers were verified outside faena (primesieve and
//! primecount; Python's exact `math.factorial`).

use serde_json::{Value, json};

/// Enough for a job to survive every kill, each of which may interrupt (and count) one attempt.
const MAX_ATTEMPTS: u64 = 10;

/// `count_primes` ranges, half-open, with their counts.
const PRIMES: [(u64, u64, u64); 3] = [
    (0, 1_000_000, 78_498),
    (0, 10_000_000, 664_579),
    (1_000_000_000, 1_010_000_000, 482_449),
];

/// n, the digits of n!, its trailing zeros and its first (at most 20) digits.
const FACTORIALS: [(u64, u64, u64, &str); 9] = [
    (0, 1, 0, "1"),
    (1, 1, 0, "1"),
    (5, 3, 1, "120"),
    (10, 7, 2, "3628800"),
    (100, 158, 24, "93326215443944152681"),
    (50_000, 213_237, 12_499, "33473205095971448369"),
    (60_000, 260_635, 14_998, "15641377080260669224"),
    (70_000, 308_760, 17_498, "11768124153796900815"),
    (80_000, 357_507, 19_999, "30977222516622492863"),
];
const FACTORIAL_LISTS: [&[u64]; 2] = [&[0, 1, 5, 10, 100], &[50_000, 60_000, 70_000, 80_000]];

/// splitmix64 of the seed and `n`: submission `n`'s job depends on the seed only, whatever
/// the interleaving of the clients.
pub fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The body of submission `n`: mostly a sleep of 0 to 20 ms, one in 25 a prime count, one in
/// 50 a list of factorials.
pub fn job(seed: u64, n: usize) -> Value {
    let h = mix(seed, n as u64);
    let pick = (h >> 8) as usize;
    let mut job = match h % 50 {
        0 | 1 => {
            let (start, end, _) = PRIMES[pick % PRIMES.len()];
            json!({"kind": "count_primes", "params": {"start": start, "end": end}})
        }
        2 => {
            let numbers = FACTORIAL_LISTS[pick % FACTORIAL_LISTS.len()];
            json!({"kind": "factorial", "params": {"numbers": numbers}})
        }
        _ => json!({"kind": "sleep", "params": {"ms": pick % 21}}),
    };
    job["max_attempts"] = json!(MAX_ATTEMPTS);
    job
}

/// The exact result of a stored job, from its kind and params.
pub fn expected(job: &Value) -> Option<Value> {
    let params = &job["params"];
    match job["kind"].as_str()? {
        "sleep" => Some(json!({"slept_ms": params["ms"]})),
        "count_primes" => PRIMES
            .iter()
            .find(|&&(start, end, _)| params["start"] == start && params["end"] == end)
            .map(|&(_, _, count)| json!({"count": count})),
        "factorial" => {
            let results = params["numbers"].as_array()?.iter().map(|n| {
                let &(n, digits, zeros, leading) = FACTORIALS.iter().find(|f| *n == f.0)?;
                Some(json!({"n": n, "digits": digits, "trailing_zeros": zeros,
                            "leading_digits": leading}))
            });
            Some(json!({"results": results.collect::<Option<Vec<_>>>()?}))
        }
        _ => None,
    }
}
