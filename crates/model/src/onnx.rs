//! ONNX export of a [`Forest`] as one `ai.onnx.ml` `TreeEnsembleRegressor` node (default
//! opset 13, ai.onnx.ml opset 3), input `input: float32[N, n_features]`, output
//! `variable: float32[N, 1]`, and a tract op for that node.
//!
//! tract-onnx has no `TreeEnsembleRegressor`: [`register`] inserts one into a framework's
//! op register. Its [`Expansion`] parses the node back into a [`Forest`] (every
//! `nodes_modes`, `nodes_missing_value_tracks_true`, `base_values`, aggregate `SUM`, one
//! target) and wires a typed op ([`TreeEnsembleOp`]) with a symbolic batch dimension.

use crate::{Forest, Mode, ModelError, Node, Result, Scorer};
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use tract_hir::internal::*;
use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{self, NodeProto, attribute_proto::AttributeType};
use tract_onnx::prelude::{Framework, InferenceModelExt};

/// Name of the graph input and output.
pub const INPUT: &str = "input";
pub const OUTPUT: &str = "variable";

fn attr(name: &str) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), ..Default::default() }
}
fn ints(name: &str, v: Vec<i64>) -> pb::AttributeProto {
    pb::AttributeProto { r#type: AttributeType::Ints as i32, ints: v, ..attr(name) }
}
fn floats(name: &str, v: Vec<f32>) -> pb::AttributeProto {
    pb::AttributeProto { r#type: AttributeType::Floats as i32, floats: v, ..attr(name) }
}
fn strings(name: &str, v: Vec<&str>) -> pb::AttributeProto {
    let strings = v.into_iter().map(|s| s.as_bytes().to_vec()).collect();
    pb::AttributeProto { r#type: AttributeType::Strings as i32, strings, ..attr(name) }
}
fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto { r#type: AttributeType::String as i32, s: v.as_bytes().to_vec(), ..attr(name) }
}
fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { r#type: AttributeType::Int as i32, i: v, ..attr(name) }
}

fn tensor_type(dims: [pb::tensor_shape_proto::dimension::Value; 2]) -> pb::TypeProto {
    let dim = dims.into_iter().map(|v| pb::tensor_shape_proto::Dimension { value: Some(v), ..Default::default() }).collect();
    pb::TypeProto {
        value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
            elem_type: pb::tensor_proto::DataType::Float as i32,
            shape: Some(pb::TensorShapeProto { dim }),
        })),
        ..Default::default()
    }
}

/// The ONNX model of a forest. Node ids are local to each tree, in depth-first order.
pub fn to_model_proto(forest: &Forest, doc: &str) -> Result<pb::ModelProto> {
    forest.validate()?;
    let (mut treeids, mut nodeids, mut featureids, mut values, mut modes) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut trues, mut falses, mut missing) = (vec![], vec![], vec![]);
    let (mut t_tree, mut t_node, mut t_weight) = (vec![], vec![], vec![]);
    for (tree, &root) in forest.roots.iter().enumerate() {
        // Depth-first numbering: local id of each flat node of this tree.
        let mut local: HashMap<u32, i64> = HashMap::new();
        let mut order = vec![];
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            local.insert(i, order.len() as i64);
            order.push(i);
            let n = &forest.nodes[i as usize];
            if n.branch.is_some() {
                stack.push(n.if_false);
                stack.push(n.if_true);
            }
        }
        for &i in &order {
            let n = &forest.nodes[i as usize];
            treeids.push(tree as i64);
            nodeids.push(local[&i]);
            match n.branch {
                Some(mode) => {
                    featureids.push(n.feature as i64);
                    values.push(n.threshold);
                    modes.push(mode.onnx_name());
                    trues.push(local[&n.if_true]);
                    falses.push(local[&n.if_false]);
                    missing.push(n.missing_true as i64);
                }
                None => {
                    featureids.push(0);
                    values.push(0.0);
                    modes.push("LEAF");
                    trues.push(0);
                    falses.push(0);
                    missing.push(0);
                    t_tree.push(tree as i64);
                    t_node.push(local[&i]);
                    t_weight.push(n.value);
                }
            }
        }
    }
    let n_targets = t_tree.len();
    let node = NodeProto {
        input: vec![INPUT.into()],
        output: vec![OUTPUT.into()],
        name: "TreeEnsembleRegressor".into(),
        op_type: "TreeEnsembleRegressor".into(),
        domain: "ai.onnx.ml".into(),
        attribute: vec![
            string("aggregate_function", "SUM"),
            floats("base_values", vec![forest.base]),
            int("n_targets", 1),
            ints("nodes_falsenodeids", falses),
            ints("nodes_featureids", featureids),
            ints("nodes_missing_value_tracks_true", missing),
            strings("nodes_modes", modes),
            ints("nodes_nodeids", nodeids),
            ints("nodes_treeids", treeids),
            ints("nodes_truenodeids", trues),
            floats("nodes_values", values),
            string("post_transform", "NONE"),
            ints("target_ids", vec![0; n_targets]),
            ints("target_nodeids", t_node),
            ints("target_treeids", t_tree),
            floats("target_weights", t_weight),
        ],
        ..Default::default()
    };
    use pb::tensor_shape_proto::dimension::Value as D;
    let graph = pb::GraphProto {
        node: vec![node],
        name: "nba_points".into(),
        input: vec![pb::ValueInfoProto {
            name: INPUT.into(),
            r#type: Some(tensor_type([D::DimParam("N".into()), D::DimValue(forest.n_features as i64)])),
            ..Default::default()
        }],
        output: vec![pb::ValueInfoProto { name: OUTPUT.into(), r#type: Some(tensor_type([D::DimParam("N".into()), D::DimValue(1)])), ..Default::default() }],
        ..Default::default()
    };
    Ok(pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }, pb::OperatorSetIdProto { domain: "ai.onnx.ml".into(), version: 3 }],
        producer_name: "nba-model".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// The serialized ONNX file of a forest.
pub fn to_onnx_bytes(forest: &Forest, doc: &str) -> Result<Vec<u8>> {
    Ok(to_model_proto(forest, doc)?.encode_to_vec())
}

/// Parses a `TreeEnsembleRegressor` node back into a forest of `n_features` features.
pub fn forest_from_node(node: &NodeProto, n_features: usize) -> Result<Forest> {
    let e = |m: String| ModelError::Onnx(format!("TreeEnsembleRegressor {:?}: {m}", node.name));
    let nodes = NodeAttributes::read(node, &e)?;
    let base = check_aggregation(node, &e)?;
    let weight = leaf_weights(node, &e)?;
    let mut forest = Forest { n_features, base, nodes: vec![], roots: vec![] };
    for (tree_id, tree) in nodes.trees(&e)? {
        nodes.append_tree(&mut forest, tree_id, &tree, &weight, &e)?;
    }
    forest.validate()?;
    Ok(forest)
}

/// The `nodes_*` attributes of a `TreeEnsembleRegressor`: one entry per node, all of
/// the same length.
struct NodeAttributes {
    treeids: Vec<i64>,
    nodeids: Vec<i64>,
    featureids: Vec<i64>,
    trues: Vec<i64>,
    falses: Vec<i64>,
    values: Vec<f32>,
    modes: Vec<String>,
    missing: Vec<i64>,
}

/// Node id → position in [`NodeAttributes`], for one tree.
type TreeNodes = HashMap<i64, usize>;

impl NodeAttributes {
    fn read(node: &NodeProto, e: &impl Fn(String) -> ModelError) -> Result<NodeAttributes> {
        let t = |r: TractResult<Vec<i64>>| r.map_err(|x| e(format!("{x:#}")));
        let treeids = t(node.get_attr_vec::<i64>("nodes_treeids"))?;
        let n = treeids.len();
        let a = NodeAttributes {
            nodeids: t(node.get_attr_vec::<i64>("nodes_nodeids"))?,
            featureids: t(node.get_attr_vec::<i64>("nodes_featureids"))?,
            trues: t(node.get_attr_vec::<i64>("nodes_truenodeids"))?,
            falses: t(node.get_attr_vec::<i64>("nodes_falsenodeids"))?,
            values: node.get_attr_vec("nodes_values").map_err(|x| e(format!("{x:#}")))?,
            modes: node.get_attr_vec("nodes_modes").map_err(|x| e(format!("{x:#}")))?,
            missing: t(node.get_attr_opt_vec::<i64>("nodes_missing_value_tracks_true").map(|o| o.unwrap_or_else(|| vec![0; n])))?,
            treeids,
        };
        let lengths = [a.nodeids.len(), a.featureids.len(), a.trues.len(), a.falses.len(), a.values.len(), a.modes.len(), a.missing.len()];
        if lengths.iter().any(|&l| l != n) {
            return Err(e("node attribute lengths differ".into()));
        }
        Ok(a)
    }

    /// Trees in order of first appearance, each with its nodes by id.
    fn trees(&self, e: &impl Fn(String) -> ModelError) -> Result<Vec<(i64, TreeNodes)>> {
        let mut tree_order: Vec<i64> = vec![];
        let mut by_tree: HashMap<i64, TreeNodes> = HashMap::new();
        for i in 0..self.treeids.len() {
            let tree = by_tree.entry(self.treeids[i]).or_insert_with(|| {
                tree_order.push(self.treeids[i]);
                HashMap::new()
            });
            if tree.insert(self.nodeids[i], i).is_some() {
                return Err(e(format!("duplicate node {} in tree {}", self.nodeids[i], self.treeids[i])));
            }
        }
        Ok(tree_order.into_iter().map(|id| (id, by_tree.remove(&id).unwrap_or_default())).collect())
    }

    /// The one node of `tree` that is no node's child.
    fn root(&self, tree_id: i64, tree: &TreeNodes, e: &impl Fn(String) -> ModelError) -> Result<i64> {
        let mut children = std::collections::HashSet::new();
        for &i in tree.values() {
            if self.modes[i] != "LEAF" {
                children.insert(self.trues[i]);
                children.insert(self.falses[i]);
            }
        }
        let roots: Vec<i64> = tree.keys().copied().filter(|id| !children.contains(id)).collect();
        let [root] = roots[..] else { return Err(e(format!("tree {tree_id} has {} roots", roots.len()))) };
        Ok(root)
    }

    /// Appends one tree to `forest`, depth-first: each node is placed before its
    /// children, which get patched in. A node reached twice (a cycle or a shared child)
    /// or missing is an error.
    fn append_tree(
        &self,
        forest: &mut Forest,
        tree_id: i64,
        tree: &TreeNodes,
        weight: &HashMap<(i64, i64), f32>,
        e: &impl Fn(String) -> ModelError,
    ) -> Result<()> {
        let root = self.root(tree_id, tree, e)?;
        forest.roots.push(forest.nodes.len() as u32);
        let mut stack: Vec<(i64, Option<(usize, bool)>)> = vec![(root, None)];
        let mut seen = std::collections::HashSet::new();
        while let Some((id, parent)) = stack.pop() {
            if !seen.insert(id) {
                return Err(e(format!("tree {tree_id}: node {id} reached twice")));
            }
            let &i = tree.get(&id).ok_or_else(|| e(format!("tree {tree_id}: missing node {id}")))?;
            let slot = forest.nodes.len() as u32;
            if let Some((p, is_true)) = parent {
                if is_true { forest.nodes[p].if_true = slot } else { forest.nodes[p].if_false = slot }
            }
            match Mode::from_onnx(&self.modes[i])? {
                None => forest.nodes.push(Node::leaf(weight.get(&(tree_id, id)).copied().unwrap_or(0.0))),
                Some(mode) => {
                    let feature = u32::try_from(self.featureids[i]).map_err(|_| e(format!("bad feature {}", self.featureids[i])))?;
                    forest.nodes.push(Node {
                        feature,
                        threshold: self.values[i],
                        branch: Some(mode),
                        if_true: 0,
                        if_false: 0,
                        missing_true: self.missing[i] != 0,
                        value: 0.0,
                    });
                    let p = slot as usize;
                    stack.push((self.falses[i], Some((p, false))));
                    stack.push((self.trues[i], Some((p, true))));
                }
            }
        }
        Ok(())
    }
}

/// Checks the ensemble is one target summed with no post-transform (all this op
/// computes) and returns its base value.
fn check_aggregation(node: &NodeProto, e: &impl Fn(String) -> ModelError) -> Result<f32> {
    let n_targets = node.get_attr_opt::<i64>("n_targets").map_err(|x| e(format!("{x:#}")))?.unwrap_or(1);
    if n_targets != 1 {
        return Err(e(format!("{n_targets} targets, expected 1")));
    }
    let agg: Option<String> = node.get_attr_opt("aggregate_function").map_err(|x| e(format!("{x:#}")))?;
    if agg.as_deref().is_some_and(|a| a != "SUM") {
        return Err(e(format!("aggregate_function {agg:?} unsupported (only SUM)")));
    }
    let post: Option<String> = node.get_attr_opt("post_transform").map_err(|x| e(format!("{x:#}")))?;
    if post.as_deref().is_some_and(|p| p != "NONE") {
        return Err(e(format!("post_transform {post:?} unsupported (only NONE)")));
    }
    let base: Vec<f32> = node.get_attr_opt_vec("base_values").map_err(|x| e(format!("{x:#}")))?.unwrap_or_default();
    if base.len() > 1 {
        return Err(e("more than one base value".into()));
    }
    Ok(base.first().copied().unwrap_or(0.0))
}

/// Leaf values by (tree id, node id) from the `target_*` attributes; weights given
/// twice for one leaf add up.
fn leaf_weights(node: &NodeProto, e: &impl Fn(String) -> ModelError) -> Result<HashMap<(i64, i64), f32>> {
    let t = |r: TractResult<Vec<i64>>| r.map_err(|x| e(format!("{x:#}")));
    let t_tree = t(node.get_attr_vec::<i64>("target_treeids"))?;
    let t_node = t(node.get_attr_vec::<i64>("target_nodeids"))?;
    let t_ids = t(node.get_attr_vec::<i64>("target_ids"))?;
    let t_w: Vec<f32> = node.get_attr_vec("target_weights").map_err(|x| e(format!("{x:#}")))?;
    if [t_node.len(), t_ids.len(), t_w.len()].iter().any(|&l| l != t_tree.len()) || t_ids.iter().any(|&i| i != 0) {
        return Err(e("bad target attributes".into()));
    }
    let mut weight: HashMap<(i64, i64), f32> = HashMap::new();
    for i in 0..t_tree.len() {
        *weight.entry((t_tree[i], t_node[i])).or_insert(0.0) += t_w[i];
    }
    Ok(weight)
}

/// Reads an ONNX file written by [`to_onnx_bytes`] straight into a [`Forest`] (no
/// tract): one `TreeEnsembleRegressor` node whose input is `[N, n_features]`.
pub fn forest_from_bytes(bytes: &[u8], n_features: usize) -> Result<Forest> {
    let model = pb::ModelProto::decode(bytes).map_err(|e| ModelError::Onnx(format!("not an ONNX model: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Onnx("no graph".into()))?;
    let [node] = &graph.node[..] else { return Err(ModelError::Onnx(format!("{} nodes, expected one", graph.node.len()))) };
    if node.op_type != "TreeEnsembleRegressor" {
        return Err(ModelError::Onnx(format!("node is {}, expected TreeEnsembleRegressor", node.op_type)));
    }
    let width = graph.input.first().and_then(|i| i.r#type.as_ref()).and_then(|t| match &t.value {
        Some(pb::type_proto::Value::TensorType(t)) => t.shape.as_ref().and_then(|s| s.dim.get(1)).and_then(|d| match d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
            _ => None,
        }),
        None => None,
    });
    if width != Some(n_features as i64) {
        return Err(ModelError::Onnx(format!("model input width {width:?}, the feature contract has {n_features} features")));
    }
    forest_from_node(node, n_features)
}

/// The parsed node, expanded into [`TreeEnsembleOp`] when the model is typed.
#[derive(Debug, Clone)]
pub struct TreeEnsembleRegressor {
    /// The proto node, parsed once the input width is known.
    node: NodeProto,
}

/// The typed op: scores `[N, n_features]` float rows into `[N, 1]`.
#[derive(Debug, Clone)]
pub struct TreeEnsembleOp {
    pub scorer: Arc<Scorer>,
}

impl PartialEq for TreeEnsembleOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.scorer, &other.scorer) || self.scorer == other.scorer
    }
}
// Forests come from finite, validated values, so equality is reflexive in practice.
impl Eq for TreeEnsembleOp {}

/// Inserts `TreeEnsembleRegressor` into an op register (e.g. `tract_onnx::onnx().op_register`).
pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("TreeEnsembleRegressor", tree_ensemble_regressor);
}

fn tree_ensemble_regressor(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    // Parse now (feature count unknown yet: the largest index used + 1) so a bad node
    // fails at load time.
    let max_feature = node.get_attr_vec::<i64>("nodes_featureids")?.into_iter().max().unwrap_or(0).max(0) as usize;
    forest_from_node(node, max_feature + 1)?;
    Ok((expand(TreeEnsembleRegressor { node: node.clone() }), vec![]))
}

impl Expansion for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(&'s self, s: &mut Solver<'r>, inputs: &'p [TensorProxy], outputs: &'p [TensorProxy]) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], 1.to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        ensure!(fact.rank() == 2, "TreeEnsembleRegressor input must be [N, features], got {fact:?}");
        let width = fact.shape[1].to_usize().map_err(|_| format_err!("input width must be known, got {fact:?}"))?;
        let forest = forest_from_node(&self.node, width)?;
        let mut x = inputs[0];
        if fact.datum_type != f32::datum_type() {
            x = model.wire_node(format!("{prefix}.to_f32"), tract_core::ops::cast::cast(f32::datum_type()), &[x])?[0];
        }
        model.wire_node(prefix, TreeEnsembleOp { scorer: Arc::new(Scorer::new(forest)?) }, &[x])
    }
}

impl Op for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        "NbaTreeEnsemble".into()
    }
    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.cast_to::<f32>()?;
        let shape = input.shape();
        let nf = self.scorer.n_features();
        ensure!(shape.len() == 2 && shape[1] == nf, "input shape {shape:?}, expected [N, {nf}]");
        let rows = input.try_as_plain_ram()?;
        let scores = self.scorer.predict_batch(rows.as_slice::<f32>()?)?;
        Ok(tvec!(Tensor::from_shape(&[shape[0], 1], &scores)?.into_tvalue()))
    }
}

impl TypedOp for TreeEnsembleOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact([inputs[0].shape[0].clone(), 1.to_dim()])))
    }
    as_op!();
}

/// An ONNX model loaded in tract, with the tree op registered.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    n_features: usize,
}

impl OnnxModel {
    /// Loads an ONNX file's bytes; refuses a model whose input is not `[N, n_features]`.
    pub fn load(bytes: &[u8], n_features: usize) -> Result<OnnxModel> {
        let err = |x: TractError| ModelError::Onnx(format!("{x:#}"));
        let mut onnx = tract_onnx::onnx();
        register(&mut onnx.op_register);
        let model = onnx.model_for_read(&mut &bytes[..]).map_err(err)?;
        let typed = model.into_optimized().map_err(err)?;
        let fact = typed.input_fact(0).map_err(err)?;
        let width = (fact.rank() == 2).then(|| fact.shape[1].to_usize().ok()).flatten();
        if width != Some(n_features) {
            return Err(ModelError::Onnx(format!("model input is {:?}, the feature contract has {n_features} features", fact.shape)));
        }
        let plan = typed.into_runnable().map_err(err)?;
        Ok(OnnxModel { plan, n_features })
    }

    /// Scores a row-major batch `[n, n_features]`.
    pub fn predict(&self, rows: &[f32]) -> Result<Vec<f32>> {
        if rows.is_empty() || !rows.len().is_multiple_of(self.n_features) {
            return Err(ModelError::Width { expected: self.n_features, got: rows.len() });
        }
        let err = |x: TractError| ModelError::Onnx(format!("{x:#}"));
        let input = Tensor::from_shape(&[rows.len() / self.n_features, self.n_features], rows).map_err(err)?;
        let out = self.plan.run(tvec!(input.into_tvalue())).map_err(err)?;
        let out = out[0].try_as_plain_ram().map_err(err)?;
        Ok(out.as_slice::<f32>().map_err(err)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::small;

    /// A deterministic pseudo-random forest using every mode, NaN routing both ways.
    fn random_forest(n_features: usize, n_trees: usize, seed: u64) -> Forest {
        let mut s = seed;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let modes = [Mode::Leq, Mode::Lt, Mode::Gte, Mode::Gt, Mode::Eq, Mode::Neq];
        let mut f = Forest { n_features, base: 3.25, nodes: vec![], roots: vec![] };
        for _ in 0..n_trees {
            // Full binary tree of depth 3 laid out breadth-first.
            let start = f.nodes.len() as u32;
            f.roots.push(start);
            for i in 0..15u32 {
                if i < 7 {
                    f.nodes.push(Node {
                        feature: (rnd() % n_features as u64) as u32,
                        threshold: (rnd() % 7) as f32 - 3.0,
                        branch: Some(modes[(rnd() % 6) as usize]),
                        if_true: start + 2 * i + 1,
                        if_false: start + 2 * i + 2,
                        missing_true: rnd() % 2 == 0,
                        value: 0.0,
                    });
                } else {
                    f.nodes.push(Node::leaf((rnd() % 1000) as f32 / 100.0 - 5.0));
                }
            }
        }
        f
    }

    #[test]
    fn tract_agrees_with_the_forest() {
        let forest = random_forest(5, 40, 7);
        forest.validate().unwrap();
        let bytes = to_onnx_bytes(&forest, "test").unwrap();
        let model = OnnxModel::load(&bytes, 5).unwrap();
        let mut rows = vec![];
        let mut s = 1u64;
        for _ in 0..200 * 5 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((s >> 33) % 9) as f32 - 4.0;
            rows.push(if (s >> 20).is_multiple_of(10) { f32::NAN } else { v });
        }
        let want = forest.predict_batch(&rows).unwrap();
        // Batch sizes change at run time: the batch dimension is symbolic.
        for n in [1usize, 7, 200] {
            let got = model.predict(&rows[..n * 5]).unwrap();
            assert_eq!(got.len(), n);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-4, "{g} vs {w}");
            }
        }
        // Round trip of the node gives the same forest semantics.
        let proto = to_model_proto(&forest, "").unwrap();
        let back = forest_from_node(&proto.graph.as_ref().unwrap().node[0], 5).unwrap();
        assert_eq!(back.predict_batch(&rows).unwrap(), want);
        let back = forest_from_bytes(&bytes, 5).unwrap();
        assert_eq!(back.predict_batch(&rows).unwrap(), want);
        assert!(forest_from_bytes(&bytes, 6).is_err());
        assert!(forest_from_bytes(b"junk", 5).is_err());
    }

    #[test]
    fn load_checks_the_width_and_bad_bytes() {
        let bytes = to_onnx_bytes(&small(), "").unwrap();
        assert!(OnnxModel::load(&bytes, 2).is_ok());
        let e = OnnxModel::load(&bytes, 3).unwrap_err().to_string();
        assert!(e.contains("3 features"), "{e}");
        assert!(OnnxModel::load(b"not a model", 2).is_err());
        let m = OnnxModel::load(&bytes, 2).unwrap();
        assert!(m.predict(&[1.0, 2.0, 3.0]).is_err());
    }
}
