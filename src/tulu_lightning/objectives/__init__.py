"""Training objectives. Each module provides a config dataclass (a `RunConfig`, named here) and
`build(cfg) -> (LightningModule, LightningDataModule)`, and optionally `validate(cfg)` (run at start-up)."""

# objective name (the config's `objective:` key) -> (module, config class name)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "sft": ("tulu_lightning.objectives.sft", "SFTConfig"),
    "dpo": ("tulu_lightning.objectives.dpo", "DPOConfig"),
    "reward_model": ("tulu_lightning.objectives.reward_model", "RewardModelConfig"),
    "prompt_tuning": ("tulu_lightning.objectives.prompt_tuning", "PromptTuningConfig"),
    "grpo": ("tulu_lightning.objectives.grpo", "GRPOConfig"),
    "ppo": ("tulu_lightning.objectives.ppo", "PPOConfig"),
}
