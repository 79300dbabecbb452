"""b2core stand-in for basf2's ``variables`` package: the variable manager (aliases only).

``from variables import variables as vm``; ``vm.addAlias("p_cms", "useCMSFrame(p)")``,
``vm.getAliasNames()``, ``vm.getVariable("p_cms").name == "useCMSFrame(p)"``.
"""

from __future__ import annotations


class Var:
    """What ``VariableManager.getVariable`` returns: the variable an alias resolves to."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description

    def __repr__(self) -> str:
        return f"<Var {self.name}>"


class VariableManager:
    def __init__(self) -> None:
        self._aliases: dict[str, str] = {}
        self._collections: dict[str, list[str]] = {}

    def addAlias(self, alias: str, expression: str) -> bool:
        if alias == expression:
            print(f"[ERROR] Alias '{alias}' cannot point to itself")
            return False
        self._aliases[str(alias)] = str(expression)
        return True

    def getAliasNames(self) -> list[str]:
        return list(self._aliases)

    def getVariable(self, name: str) -> Var:
        seen = set()
        while name in self._aliases and name not in seen:
            seen.add(name)
            name = self._aliases[name]
        return Var(name)

    def clearAliases(self) -> None:
        self._aliases.clear()

    def printAliases(self) -> None:
        for alias, expression in self._aliases.items():
            print(f"[INFO] {alias} --> {expression}")

    def addCollection(self, name: str, variables: list[str]) -> bool:
        self._collections[name] = list(variables)
        return True

    def getCollection(self, name: str) -> list[str]:
        return list(self._collections.get(name, []))


variables = VariableManager()

__all__ = ["Var", "VariableManager", "variables"]
