//! A fitted baseline of any kind as one value ([`FittedBaseline`]): what a
//! model directory stores, so loading a baseline reads its fitted state
//! instead of fitting it again, and what the service keeps in memory.

use crate::{Age, Baseline, BprMf, DecayKnn, DecayKnnParams, ItemKnn, Neighbours, Pop, SeqMf};
use seqrec_core::codec::{CodecError, Decoder, Encoder};
use seqrec_core::{Query, ScoreError, Scorer};

/// One fitted baseline.
#[derive(Clone, Debug)]
pub enum FittedBaseline {
    Pop(Pop),
    ItemKnn(ItemKnn),
    DecayKnn(DecayKnn),
    BprMf(BprMf),
    SeqMf(SeqMf),
}

impl FittedBaseline {
    /// Which baseline this is.
    pub fn kind(&self) -> Baseline {
        match self {
            FittedBaseline::Pop(_) => Baseline::Pop,
            FittedBaseline::ItemKnn(_) => Baseline::ItemKnn,
            FittedBaseline::DecayKnn(_) => Baseline::DecayKnn,
            FittedBaseline::BprMf(_) => Baseline::BprMf,
            FittedBaseline::SeqMf(_) => Baseline::SeqMf,
        }
    }

    fn scorer(&self) -> &(dyn Scorer + Send) {
        match self {
            FittedBaseline::Pop(m) => m,
            FittedBaseline::ItemKnn(m) => m,
            FittedBaseline::DecayKnn(m) => m,
            FittedBaseline::BprMf(m) => m,
            FittedBaseline::SeqMf(m) => m,
        }
    }

    /// Appends the fitted state (bit-exact floats) to `e`.
    pub fn encode(&self, e: &mut Encoder) {
        e.str(self.kind().name());
        match self {
            FittedBaseline::Pop(m) => e.f32s(m.counts()),
            FittedBaseline::ItemKnn(m) => encode_neighbours(&m.neighbours, e),
            FittedBaseline::DecayKnn(m) => {
                encode_neighbours(&m.neighbours, e);
                let params = m.params();
                e.u64(params.neighbours as u64);
                e.f64(params.decay);
                e.u8(match params.age {
                    Age::Events => 0,
                    Age::Seconds => 1,
                    Age::Days => 2,
                });
            }
            FittedBaseline::BprMf(m) => {
                e.u64(m.factors as u64);
                e.f32s(&m.users);
                e.f32s(&m.items);
                e.f32s(&m.bias);
            }
            FittedBaseline::SeqMf(m) => {
                e.u64(m.factors as u64);
                e.u64(m.window as u64);
                e.f32s(&m.users);
                e.f32s(&m.items);
                e.f32s(&m.context);
                e.f32s(&m.bias);
            }
        }
    }

    /// Reads what [`Self::encode`] wrote, checking that the parts fit
    /// together (a damaged file is an error, never a model that scores
    /// out of bounds).
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        let name = d.str()?;
        let kind = Baseline::parse(&name).map_err(|e| CodecError::Malformed(e.to_string()))?;
        let count = |d: &mut Decoder<'_>| -> Result<usize, CodecError> {
            usize::try_from(d.u64()?).map_err(|_| CodecError::Malformed("size".into()))
        };
        let fitted = match kind {
            Baseline::Pop => FittedBaseline::Pop(Pop::from_counts(d.f32s()?)),
            Baseline::ItemKnn => FittedBaseline::ItemKnn(ItemKnn {
                neighbours: decode_neighbours(d)?,
            }),
            Baseline::DecayKnn => {
                let neighbours = decode_neighbours(d)?;
                let params = DecayKnnParams {
                    neighbours: count(d)?,
                    decay: d.f64()?,
                    age: match d.u8()? {
                        0 => Age::Events,
                        1 => Age::Seconds,
                        2 => Age::Days,
                        a => return Err(CodecError::Malformed(format!("decay-knn age {a}"))),
                    },
                };
                FittedBaseline::DecayKnn(DecayKnn::from_parts(neighbours, params))
            }
            Baseline::BprMf => {
                let factors = count(d)?;
                let model = BprMf {
                    factors,
                    users: d.f32s()?,
                    items: d.f32s()?,
                    bias: d.f32s()?,
                };
                let items = model.bias.len();
                if factors == 0
                    || !model.users.len().is_multiple_of(factors)
                    || model.items.len() != items * factors
                {
                    return Err(CodecError::Malformed("bpr-mf factor shapes".into()));
                }
                FittedBaseline::BprMf(model)
            }
            Baseline::SeqMf => {
                let (factors, window) = (count(d)?, count(d)?);
                let model = SeqMf {
                    factors,
                    window,
                    users: d.f32s()?,
                    items: d.f32s()?,
                    context: d.f32s()?,
                    bias: d.f32s()?,
                };
                let items = model.bias.len();
                if factors == 0
                    || window == 0
                    || !model.users.len().is_multiple_of(factors)
                    || model.items.len() != items * factors
                    || model.context.len() != items * factors
                {
                    return Err(CodecError::Malformed("seq-mf factor shapes".into()));
                }
                FittedBaseline::SeqMf(model)
            }
        };
        Ok(fitted)
    }

    /// Users the model has a row for (the factor models); `None` for the
    /// models that do not depend on who the user is.
    pub fn users(&self) -> Option<usize> {
        match self {
            FittedBaseline::BprMf(m) => Some(m.users.len() / m.factors.max(1)),
            FittedBaseline::SeqMf(m) => Some(m.users.len() / m.factors.max(1)),
            _ => None,
        }
    }
}

fn encode_neighbours(n: &Neighbours, e: &mut Encoder) {
    let (offsets, items, similarities) = n.parts();
    e.usizes(offsets);
    e.u32s(items);
    e.f32s(similarities);
}

fn decode_neighbours(d: &mut Decoder<'_>) -> Result<Neighbours, CodecError> {
    let offsets = d.usizes()?;
    let items = d.u32s()?;
    let similarities = d.f32s()?;
    Neighbours::from_parts(offsets, items, similarities).map_err(CodecError::Malformed)
}

impl Scorer for FittedBaseline {
    fn name(&self) -> &str {
        self.scorer().name()
    }

    fn catalogue_size(&self) -> usize {
        self.scorer().catalogue_size()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        self.scorer().score(queries, scores)
    }

    fn parallel_batches(&self) -> bool {
        self.scorer().parallel_batches()
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        self.scorer().preferred_batch_size()
    }
}
