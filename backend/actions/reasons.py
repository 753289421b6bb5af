"""Bilingual reasons the platform itself gives (methodology rejections carry their own)."""

from __future__ import annotations

from methodologies import Text

REASONS: dict[str, Text] = {
    "malformed_record": Text("记录格式不完整或有误", "The record is incomplete or malformed"),
    "unknown_action": Text("不支持的减排行为类型", "This kind of action is not supported"),
    "action_not_allowed": Text(
        "该合作方不能报送此类行为", "This partner may not report this kind of action"
    ),
    "duplicate_action": Text(
        "同一行为已有一条记录计入（见关联记录），不重复计算",
        "The same action was already credited in another record (linked): not counted twice",
    ),
    "resent_record": Text(
        "该记录此前已收到，不重复计算", "This record was received before and is not counted again"
    ),
    "daily_limit_reached": Text(
        "已达到当日该类行为的次数上限", "Today's limit for this kind of action is reached"
    ),
    "daily_cap_reached": Text(
        "已达到当日该类行为的减排量上限", "Today's reduction cap for this kind of action is reached"
    ),
    "programme_cap_reached": Text(
        "已达到平台每日积分上限", "The programme's daily points cap is reached"
    ),
    "no_active_methodology": Text(
        "该方法学暂无生效版本，稍后将重新核算",
        "No methodology version is in force for this action yet",
    ),
    "unmatched_identity": Text(
        "未找到已授权绑定该卡号或账号的居民",
        "No resident has linked this card or account with consent",
    ),
    "identity_unconfirmed": Text(
        "该卡号或账号的绑定尚待合作方或服务点确认，记录已保存，确认后计入",
        "The link of this card or account waits for the operator or a service counter to "
        "confirm it: the record is kept and credited once it is confirmed",
    ),
    "link_confirmed_too_late": Text(
        "绑定确认时该记录已超过可补记期限，不再计入",
        "The link was confirmed after this record's claim window had passed: not credited",
    ),
    "self_declared_waste": Text(
        "已记录您的分类打卡，谢谢！自主申报的垃圾分类不计减排量，只有服务点称重的交投才计入",
        "Your sorting check-in is recorded, thank you. Self-declared waste earns no reduction: "
        "only waste weighed by station staff is credited",
    ),
    "weighed_already": Text(
        "这次交投已在服务点称重计入，自主申报不重复计算",
        "This hand-over was already weighed and credited at a station: the self-report is not "
        "counted again",
    ),
    "review_rejected": Text("审核未通过", "Not approved in review"),
    "counter_cancelled": Text(
        "柜台工作人员撤销了这条记录，积分已退回",
        "The counter staff cancelled this entry; its points were taken back",
    ),
    "counter_corrected": Text(
        "柜台工作人员更正了称重或人数，以更正后的新记录为准",
        "The counter staff corrected the weights or diners; the corrected entry counts instead",
    ),
    "burst": Text(
        "短时间内行为过多，转人工审核", "Unusually many actions in one day: sent to review"
    ),
    "verifier_outlier": Text(
        "核验人员记录量异常，转人工审核",
        "The verifier credited far more than peers: sent to review",
    ),
    "consent_withdrawn": Text(
        "该数据来源已解除绑定或撤回授权，不再计入",
        "This data source was unlinked or its consent withdrawn: not counted",
    ),
    "speed_implausible": Text(
        "平均速度超出合理范围，转人工审核", "Implausible average speed: sent to review"
    ),
    "self_report": Text("自主申报需人工审核", "Self-reports are reviewed by the programme office"),
    "account_deleted": Text("账号已注销，不再计入", "The account was deleted: not counted"),
}


def reason(code: str, detail: str | None = None) -> dict[str, str]:
    text = REASONS[code]
    if detail:
        return {"zh_CN": f"{text.zh_CN}：{detail}", "en": f"{text.en}: {detail}"}
    return text.as_dict()
