//! A torchsummary-style model summary: one row per module (layer, output shape, parameters,
//! MACs), totals, and the memory figures torchsummary prints.
//!
//! Rows follow torchsummary's rules so that its tables can be reproduced exactly: only what
//! PyTorch writes as a module gets a row (not `x + y`, `torch.cat` or `x.view`, see
//! [`crate::graph::Op::torch_module`]), rows are numbered `Type-i` in execution order, and the memory figures
//! are per sample, with "forward/backward" counting every row's output twice (activations and
//! their gradients), as torchsummary does.

use std::fmt;

use crate::graph::Graph;
use crate::tensor::numel;

/// One row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The node's name (the module path).
    pub node: String,
    /// `Type-i`, e.g. `Conv2d-1`.
    pub layer: String,
    /// Output shape with the batch dimension.
    pub output_shape: Vec<usize>,
    /// Trainable parameters.
    pub params: usize,
    /// Multiply-accumulates for the graph's batch.
    pub macs: u64,
}

/// A summary of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Module rows in execution order.
    pub rows: Vec<Row>,
    /// Trainable parameters of the whole graph.
    pub total_params: usize,
    /// Non-trainable parameters (none: running statistics are buffers, as in PyTorch).
    pub non_trainable_params: usize,
    /// Multiply-accumulates of the whole graph (every node, modules or not) for its batch.
    pub total_macs: u64,
    /// Batch size of the graph's first input.
    pub batch: usize,
    /// Elements of all graph inputs, per sample.
    pub input_elems_per_sample: usize,
    /// Elements of all module outputs, per sample.
    pub output_elems_per_sample: usize,
}

const MB: f64 = 1024.0 * 1024.0;

impl Summary {
    /// Summarises `g`.
    pub fn of(g: &Graph) -> Summary {
        let batch = g
            .inputs()
            .first()
            .and_then(|v| g.shape(*v).first().copied())
            .unwrap_or(1)
            .max(1);
        let mut rows = Vec::new();
        let mut output_elems = 0usize;
        for n in g.nodes() {
            let Some(module) = n.op.torch_module() else {
                continue;
            };
            let shapes: Vec<&[usize]> = n.inputs.iter().map(|v| g.shape(*v)).collect();
            let out = g.shape(n.output);
            output_elems += numel(out);
            rows.push(Row {
                node: n.name.clone(),
                layer: format!("{module}-{}", rows.len() + 1),
                output_shape: out.to_vec(),
                params: n.op.trainable_params(),
                macs: n.op.macs(&shapes, out),
            });
        }
        let input_elems: usize = g.inputs().iter().map(|v| numel(g.shape(*v))).sum();
        Summary {
            rows,
            total_params: g.parameter_count(),
            non_trainable_params: 0,
            total_macs: g.macs(),
            batch,
            input_elems_per_sample: input_elems / batch,
            output_elems_per_sample: output_elems / batch,
        }
    }

    /// Input size per sample in MiB (torchsummary's "Input size (MB)").
    pub fn input_mb(&self) -> f64 {
        self.input_elems_per_sample as f64 * 4.0 / MB
    }

    /// torchsummary's "Forward/backward pass size (MB)": every module output, twice.
    pub fn forward_backward_mb(&self) -> f64 {
        2.0 * self.output_elems_per_sample as f64 * 4.0 / MB
    }

    /// Inference activation memory per sample in MiB if every module output had its own
    /// buffer (see [`crate::plan::Plan`] for what the planner actually allocates).
    pub fn activation_mb(&self) -> f64 {
        self.output_elems_per_sample as f64 * 4.0 / MB
    }

    /// Parameter memory in MiB (f32).
    pub fn params_mb(&self) -> f64 {
        self.total_params as f64 * 4.0 / MB
    }

    /// torchsummary's "Estimated Total Size (MB)".
    pub fn total_mb(&self) -> f64 {
        self.input_mb() + self.forward_backward_mb() + self.params_mb()
    }

    /// The table exactly as torchsummary prints it (no MACs column).
    pub fn torchsummary(&self) -> String {
        let rule = "-".repeat(64);
        let double = "=".repeat(64);
        let mut s = String::new();
        s += &format!("{rule}\n");
        s += &format!(
            "{:>20}  {:>25} {:>15}\n",
            "Layer (type)", "Output Shape", "Param #"
        );
        s += &format!("{double}\n");
        for r in &self.rows {
            s += &format!(
                "{:>20}  {:>25} {:>15}\n",
                r.layer,
                shape_str(&r.output_shape),
                thousands(r.params as u64)
            );
        }
        s += &format!("{double}\n");
        s += &format!("Total params: {}\n", thousands(self.total_params as u64));
        s += &format!(
            "Trainable params: {}\n",
            thousands((self.total_params - self.non_trainable_params) as u64)
        );
        s += &format!(
            "Non-trainable params: {}\n",
            thousands(self.non_trainable_params as u64)
        );
        s += &format!("{rule}\n");
        s += &format!("Input size (MB): {:.2}\n", self.input_mb());
        s += &format!(
            "Forward/backward pass size (MB): {:.2}\n",
            self.forward_backward_mb()
        );
        s += &format!("Params size (MB): {:.2}\n", self.params_mb());
        s += &format!("Estimated Total Size (MB): {:.2}\n", self.total_mb());
        s += &format!("{rule}\n");
        s
    }
}

/// `[-1, 32, 32, 32]`: the batch dimension shown as -1, like torchsummary.
fn shape_str(shape: &[usize]) -> String {
    let mut parts = vec!["-1".to_string()];
    parts.extend(shape.iter().skip(1).map(|d| d.to_string()));
    format!("[{}]", parts.join(", "))
}

/// `193376` -> `193,376`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Summary {
    /// The torchsummary table with a MACs column, MAC totals and inference memory.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "-".repeat(80);
        let double = "=".repeat(80);
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:>20}  {:>25} {:>15} {:>15}",
            "Layer (type)", "Output Shape", "Param #", "MACs"
        )?;
        writeln!(f, "{double}")?;
        for r in &self.rows {
            writeln!(
                f,
                "{:>20}  {:>25} {:>15} {:>15}",
                r.layer,
                shape_str(&r.output_shape),
                thousands(r.params as u64),
                thousands(r.macs)
            )?;
        }
        writeln!(f, "{double}")?;
        writeln!(f, "Total params: {}", thousands(self.total_params as u64))?;
        writeln!(
            f,
            "Trainable params: {}",
            thousands((self.total_params - self.non_trainable_params) as u64)
        )?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.non_trainable_params as u64)
        )?;
        writeln!(
            f,
            "Total MACs (batch {}): {} ({:.3} GMAC)",
            self.batch,
            thousands(self.total_macs),
            self.total_macs as f64 / 1e9
        )?;
        writeln!(f, "{rule}")?;
        writeln!(f, "Input size (MB): {:.2}", self.input_mb())?;
        writeln!(
            f,
            "Forward/backward pass size (MB): {:.2}",
            self.forward_backward_mb()
        )?;
        writeln!(f, "Inference activations (MB): {:.2}", self.activation_mb())?;
        writeln!(f, "Params size (MB): {:.2}", self.params_mb())?;
        writeln!(f, "Estimated Total Size (MB): {:.2}", self.total_mb())?;
        writeln!(f, "{rule}")?;
        writeln!(f, "(memory figures per sample)")
    }
}
