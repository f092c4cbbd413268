//! The sequence model around the cell: item and user embeddings, the GRU
//! cell, and the output layer over the catalogue (specification §4).

use crate::cell::{GruCell, GruCellConfig, UserIntegration, uniform_linear, uniform_tensor};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use seqrec_core::SeqRng;

/// Configuration of a [`GruModel`].
#[derive(Config, Debug)]
pub struct GruModelConfig {
    /// |I|: catalogue size.
    pub items: usize,
    /// |Y|: users (rows of the user embedding).
    pub users: usize,
    pub cell: GruCellConfig,
}

/// Embeddings, cell and output layer of one GRU recommender.
#[derive(Module, Debug)]
pub struct GruModel {
    /// E_i, `[items × n]`.
    pub item_embedding: Param<Tensor<2>>,
    /// E_v, `[users × n]`; absent in the standard GRU.
    pub user_embedding: Option<Param<Tensor<2>>>,
    pub cell: GruCell,
    /// o = T_out(h): `[n × items]` weight.
    pub output: Linear,
}

impl GruModelConfig {
    /// Builds the model with every weight uniform in ±`cell.init_range`
    /// (the attention gate in its own smaller range), drawn from `rng`.
    pub fn init(&self, device: &Device, rng: &mut SeqRng) -> GruModel {
        let n = self.cell.hidden;
        let r = self.cell.init_range;
        let item_embedding = Param::from_tensor(uniform_tensor([self.items, n], r, rng, device));
        let user_embedding = (self.cell.integration != UserIntegration::None)
            .then(|| Param::from_tensor(uniform_tensor([self.users, n], r, rng, device)));
        let cell = self.cell.init_seeded(device, rng);
        let output = uniform_linear(n, self.items, r, rng, device);
        GruModel {
            item_embedding,
            user_embedding,
            cell,
            output,
        }
    }
}

/// An index tensor from ids.
pub(crate) fn index_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(values, [ids.len()]), device)
}

impl GruModel {
    /// n.
    pub fn hidden(&self) -> usize {
        self.cell.settings.hidden
    }

    /// |I|.
    pub fn items(&self) -> usize {
        self.item_embedding.dims()[0]
    }

    /// |Y| (0 for the standard GRU).
    pub fn users(&self) -> usize {
        self.user_embedding.as_ref().map_or(0, |e| e.dims()[0])
    }

    pub fn integration(&self) -> UserIntegration {
        self.cell.settings.integration
    }

    /// Rows of E_i for `items`.
    pub fn embed_items(&self, items: &[u32], device: &Device) -> Tensor<2> {
        self.item_embedding
            .val()
            .select(0, index_tensor(items, device))
    }

    /// Rows of E_v for `users` (None for the standard GRU).
    pub fn embed_users(&self, users: &[u32], device: &Device) -> Option<Tensor<2>> {
        self.user_embedding
            .as_ref()
            .map(|e| e.val().select(0, index_tensor(users, device)))
    }

    /// One recurrent step. The standard GRU ignores `e_v`.
    pub fn step(&self, h: Tensor<2>, e_i: Tensor<2>, e_v: Option<Tensor<2>>) -> Tensor<2> {
        let e_v = match e_v {
            Some(v) => v,
            // Never read by the standard cell; any tensor of the right shape will do.
            None => e_i.clone(),
        };
        self.cell.forward(h, e_i, e_v)
    }

    /// Scores o = T_out(h) over the whole catalogue, `[rows × items]`,
    /// with the product at `precision`.
    pub fn logits(&self, h: Tensor<2>, precision: crate::Precision) -> Tensor<2> {
        let o = precision.matmul(h, self.output.weight.val());
        match &self.output.bias {
            Some(b) => o + b.val().unsqueeze::<2>(),
            None => o,
        }
    }

    /// ½‖·‖² of the cell's user-side weight blocks (the option
    /// `user_l2_weights`): the user columns of the gate and threshold maps,
    /// T(v) of the candidate and of the attention gate.
    pub fn user_weight_half_square(&self) -> Option<Tensor<1>> {
        let n = self.hidden();
        let cell = &self.cell;
        let mut blocks: Vec<Tensor<2>> = Vec::new();
        if self.integration() == UserIntegration::None {
            return None;
        }
        blocks.push(cell.gates.weight.val().narrow(0, 2 * n, n));
        for layer in [&cell.candidate_user, &cell.attention_user]
            .into_iter()
            .flatten()
        {
            blocks.push(layer.weight.val());
        }
        if let Some(t) = &cell.thresholds {
            blocks.push(t.weight.val().narrow(0, 2 * n, n));
        }
        blocks
            .into_iter()
            .map(|b| b.powi_scalar(2).sum())
            .reduce(|a, b| a + b)
            .map(|s| s.mul_scalar(0.5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn state_carried_over_a_window_boundary_equals_one_long_unroll() {
        let device = Device::flex().autodiff();
        for integration in [UserIntegration::None, UserIntegration::Attentional] {
            let config =
                GruModelConfig::new(7, 3, GruCellConfig::new(4).with_integration(integration));
            let model = config.init(&device, &mut SeqRng::new(3));
            let items = [[1u32, 2], [3, 4], [5, 6], [0, 1], [2, 3], [4, 5]];
            let e_v = || model.embed_users(&[0, 2], &device);
            let run = |h: Tensor<2>, steps: &[[u32; 2]]| {
                steps.iter().fold(h, |h, s| {
                    model.step(h, model.embed_items(s, &device), e_v())
                })
            };
            let zero = Tensor::<2>::zeros([2, 4], &device);
            let long = run(zero.clone(), &items);
            let first = run(zero, &items[..3]).detach();
            let second = run(first, &items[3..]);
            assert_eq!(floats(long), floats(second), "{integration:?}");
        }
    }

    #[test]
    fn init_is_seeded_and_in_range() {
        let device = Device::flex();
        let config = GruModelConfig::new(
            5,
            2,
            GruCellConfig::new(3).with_integration(UserIntegration::Attentional),
        );
        let a = config.init(&device, &mut SeqRng::new(9));
        let b = config.init(&device, &mut SeqRng::new(9));
        let c = config.init(&device, &mut SeqRng::new(10));
        let w = |m: &GruModel| floats(m.output.weight.val());
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
        assert!(w(&a).iter().all(|x| x.abs() <= 0.1));
        let att = floats(a.cell.attention_user.as_ref().unwrap().weight.val());
        assert!(att.iter().all(|x| x.abs() <= 0.01));
        assert!(att.iter().any(|x| *x != 0.0));
    }
}
