"""◀ ▶ buttons that page through embeds (article lists, digests). Only the member who asked can turn the
pages; anyone else is told to run the command themselves."""

from __future__ import annotations

from collections.abc import Callable

import discord


class Pages(discord.ui.View):
    def __init__(
        self, kind: str, render: Callable[[int], discord.Embed], count: int, owner_id: int, timeout: float = 600
    ) -> None:
        super().__init__(timeout=timeout)
        self.previous_page.custom_id = f"byline:{kind}:previous"
        self.next_page.custom_id = f"byline:{kind}:next"
        self.render = render
        self.count = max(1, count)
        self.owner_id = owner_id
        self.page = 0
        self._sync()

    def embed(self) -> discord.Embed:
        return self.render(self.page)

    def _sync(self) -> None:
        self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.page >= self.count - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "These pages belong to the member who asked; run the command yourself to turn your own.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return False

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = max(0, min(self.page + step, self.count - 1))
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary, custom_id="byline:pages:previous")
    async def previous_page(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary, custom_id="byline:pages:next")
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)
