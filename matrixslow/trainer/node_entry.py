"""The fields every node entry of a model file's ``graph`` needs, in our format and the original's alike."""


def check_node_entry(entry, index, fail):
    """Check ``graph[index]``: a name, a node_type, a list of parent names, kargs; returns "node 'name'".

    ``fail(problem)`` raises the caller's error, which names the file.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        fail(f"graph[{index}] is not a node with a name")
    where = f"node '{entry['name']}'"
    if not isinstance(entry.get("node_type"), str):
        fail(f"{where} has no node_type")
    parents = entry.get("parents")
    if not isinstance(parents, list) or not all(isinstance(parent, str) for parent in parents):
        fail(f"{where}: parents must be a list of node names")
    if not isinstance(entry.get("kargs"), dict):
        fail(f"{where}: kargs must be a JSON object")
    return where
