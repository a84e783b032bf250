"""RLVR's losses and advantages equal their formulas, computed here by hand."""

import math

import pytest
import torch

from tulu_lightning.objectives.rlvr import (
    clipped_policy_loss,
    clipped_value_loss,
    explained_variance,
    generalized_advantages,
    group_advantages,
    kl_estimate,
    kl_penalized_rewards,
    masked_whiten,
    sequence_scores,
    token_logprobs,
)


def test_gae_equals_hand_computation():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 9.0]])
    values = torch.tensor([[0.5, 0.2, 0.4], [1.0, 1.0, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # row 1's last column is padding
    advantages, returns = generalized_advantages(rewards, values, mask, gamma=1.0, lam=0.95)
    # row 0: δ2 = 1 − 0.4, δ1 = 0 + 0.4 − 0.2, δ0 = 0 + 0.2 − 0.5; A_t = δ_t + 0.95 A_{t+1}
    a2 = 0.6
    a1 = 0.2 + 0.95 * a2
    a0 = -0.3 + 0.95 * a1
    # row 1 ends at t = 1: δ1 = 2 − 1, δ0 = 0 + 1 − 1
    b1 = 1.0
    b0 = 0.0 + 0.95 * b1
    expected = torch.tensor([[a0, a1, a2], [b0, b1, 0.0]])
    assert torch.allclose(advantages, expected, atol=1e-6)
    assert torch.allclose(returns, expected + values * mask, atol=1e-6)


def test_gae_discount():
    advantages, _ = generalized_advantages(
        torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2), torch.ones(1, 2), gamma=0.5, lam=1.0
    )
    assert torch.allclose(advantages, torch.tensor([[0.5, 1.0]]))


def test_group_advantages_centered_and_std_normalized():
    scores = torch.tensor([10.0, 0.0, 0.0, 10.0, 10.0, 10.0, 10.0, 10.0, 0.0, 0.0, 0.0, 10.0])
    advantages, keep = group_advantages(scores, group_size=4)
    assert advantages.tolist() == [5.0, -5.0, -5.0, 5.0, 0, 0, 0, 0, -2.5, -2.5, -2.5, 7.5]
    assert keep.tolist() == [True] * 4 + [False] * 4 + [True] * 4  # the all-correct group is dropped
    normalized, _ = group_advantages(scores, group_size=4, std_normalize=True, eps=0.0)
    std0 = math.sqrt((4 * 25.0) / 4)  # population std (ddof 0, as grpo_fast's numpy std) of [10, 0, 0, 10]
    std2 = math.sqrt((3 * 2.5**2 + 7.5**2) / 4)
    assert torch.allclose(normalized[:4], torch.tensor([5, -5, -5, 5]) / std0)
    assert torch.allclose(normalized[8:], torch.tensor([-2.5, -2.5, -2.5, 7.5]) / std2)


def test_clipped_policy_loss_is_asymmetric_ppo_surrogate():
    old = torch.zeros(4)
    logprobs = torch.log(torch.tensor([1.5, 0.5, 1.1, 1.5]))
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, clipped, ratio = clipped_policy_loss(logprobs, old, advantages, clip_low=0.2, clip_high=0.28)
    assert torch.allclose(ratio, torch.tensor([1.5, 0.5, 1.1, 1.5]))
    # A > 0, ρ above 1 + 0.28: capped at 1.28; A < 0, ρ below 1 − 0.2: the pessimistic 0.8 term wins;
    # inside the range: plain −A·ρ; A < 0 with ρ above the range: −A·ρ = 1.5 is already the larger.
    assert torch.allclose(loss, torch.tensor([-1.28, 0.8, -1.1, 1.5]))
    assert clipped.tolist() == [True, True, False, False]


def test_kl_estimators_equal_their_formulas():
    logprobs, ref = torch.tensor([-1.0, -0.5]), torch.tensor([-2.0, -0.1])
    log_r = ref - logprobs
    assert torch.allclose(kl_estimate(logprobs, ref, "k1"), torch.tensor([1.0, -0.4]))
    assert torch.allclose(kl_estimate(logprobs, ref, "k2"), 0.5 * log_r**2)
    expected_k3 = torch.tensor([math.exp(-1.0) - 1 + 1.0, math.exp(0.4) - 1 - 0.4])
    assert torch.allclose(kl_estimate(logprobs, ref, "k3"), expected_k3)
    assert torch.all(kl_estimate(logprobs, logprobs, "k3") == 0)
    with pytest.raises(ValueError, match="k4"):
        kl_estimate(logprobs, ref, "k4")


def test_kl_log_ratio_is_clamped_to_40_as_grpo_fast():
    logprobs = torch.tensor([-100.0, -1.0], requires_grad=True)
    ref = torch.tensor([-1.0, -100.0])  # log r = +99 and -99
    k3 = kl_estimate(logprobs, ref, "k3")
    assert torch.allclose(k3, torch.tensor([math.expm1(40.0) - 40.0, math.expm1(-40.0) + 40.0]))
    assert torch.isfinite(k3).all()
    k3.sum().backward()
    assert torch.equal(logprobs.grad, torch.zeros(2))  # outside the clamp: no gradient from the KL term


def test_clipped_value_loss():
    old = torch.tensor([0.0, 0.0, 0.0])
    values = torch.tensor([1.0, 0.1, -1.0])
    returns = torch.tensor([1.0, 1.0, 0.0])
    loss, clipped = clipped_value_loss(values, old, returns, clip=0.2)
    # clipped values: 0.2, 0.1, −0.2
    expected = 0.5 * torch.tensor([max(0.0, 0.8**2), max(0.9**2, 0.9**2), max(1.0, 0.2**2)])
    assert torch.allclose(loss, expected)
    assert clipped.tolist() == [True, False, False]


def test_kl_penalized_rewards_put_the_score_on_the_last_token():
    logprobs = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, -2.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5], [-1.0, -1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards = kl_penalized_rewards(torch.tensor([10.0, -10.0]), logprobs, ref, mask, beta=0.1)
    expected = torch.tensor([[-0.05, 0.0, 0.05 + 10.0], [0.0, 0.1 - 10.0, 0.0]])
    assert torch.allclose(rewards, expected)


def test_sequence_scores_alpha_and_non_eos_penalty():
    correct, stopped = torch.tensor([1.0, 0.0, 1.0]), torch.tensor([True, True, False])
    assert sequence_scores(correct, stopped, 10.0, None).tolist() == [10.0, 0.0, 10.0]
    assert sequence_scores(correct, stopped, 10.0, -10.0).tolist() == [10.0, 0.0, -10.0]


def test_whitening_and_explained_variance():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    white = masked_whiten(values, mask)
    kept = white[mask.bool()]
    assert abs(float(kept.mean())) < 1e-6
    assert abs(float(kept.std()) - 1) < 1e-4  # unbiased, as the whitening
    assert white[1, 2] == 0
    assert explained_variance(values, values, mask) == 1.0
    assert explained_variance(torch.zeros_like(values) + 3, values, mask) == pytest.approx(0.0, abs=1e-6)


def test_token_logprobs_divide_logits_by_temperature():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]])
    targets = torch.tensor([[0, 2]])
    for temperature in (1.0, 0.5, 2.0):
        expected = torch.log_softmax(logits / temperature, dim=-1)[0, [0, 1], [0, 2]]
        assert torch.allclose(token_logprobs(logits, targets, temperature)[0], expected)
    assert not torch.allclose(token_logprobs(logits, targets, 0.5), token_logprobs(logits, targets, 1.0))
