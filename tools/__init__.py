"""Tools the agent model may call. Identity is injected from state; the model never supplies it."""

from langchain_core.tools import StructuredTool

from tools.orders import order_status
from tools.policy import returns_policy
from tools.profile import customer_profile
from tools.tickets import create_ticket, update_ticket

TOOLS = [StructuredTool.from_function(coroutine=fn) for fn in
         (order_status, returns_policy, create_ticket, update_ticket, customer_profile)]
