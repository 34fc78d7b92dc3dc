/*
 * report_i18n: one table of report strings, a row per key with its English, Simplified
 * Chinese (mainland usage: 批次, 冷链, 温度) and Traditional Chinese (Hong Kong / Taiwan usage:
 * 批號, 冷鏈, 溫度) texts. Lookups are linear: a report asks for a few hundred strings.
 */
#include "report_i18n.h"

#include <stdio.h>
#include <string.h>

struct row {
	const char *key;
	const char *text[REPORT_LANG_N];
};

static const struct row rows[] = {
    {"title", {"Cold-chain traceability report", "冷链追溯报告", "冷鏈追溯報告"}},
    {"title.shipment", {"Shipment cold-chain report", "运输冷链报告", "運輸冷鏈報告"}},
    {"lot", {"Lot", "批次", "批號"}},
    {"tlc", {"Traceability lot code", "追溯批次代码", "追溯批號代碼"}},
    {"gtin", {"GTIN", "商品条码 (GTIN)", "商品條碼 (GTIN)"}},
    {"gln", {"GLN", "位置码 (GLN)", "位置碼 (GLN)"}},
    {"product", {"Product", "产品", "產品"}},
    {"commodity", {"Commodity", "品类", "品類"}},
    {"quantity", {"Quantity", "数量", "數量"}},
    {"generated", {"Data as of", "数据截至", "資料截至"}},
    {"shipment", {"Shipment", "运输单", "運輸單"}},
    {"summary", {"Summary", "概要", "概要"}},
    {"band", {"Recommended temperature", "推荐温度", "建議溫度"}},
    {"harvest", {"Harvest", "采收", "採收"}},
    {"field", {"Field", "地块", "地塊"}},
    {"best_before", {"Best before", "最佳食用日期", "最佳食用日期"}},
    {"origin_country", {"Country of origin", "原产国", "原產國"}},
    {"storage_life", {"Storage life at optimum", "最适温度下贮藏期", "最適溫度下貯藏期"}},
    {"days", {"days", "天", "天"}},
    {"farm", {"Farm and certifications", "农场与认证", "農場與認證"}},
    {"farm.name", {"Farm", "农场", "農場"}},
    {"address", {"Address", "地址", "地址"}},
    {"registrations", {"Registrations", "登记备案", "登記備案"}},
    {"certifications", {"Certifications", "认证", "認證"}},
    {"scheme", {"Scheme", "类别", "類別"}},
    {"number", {"Number", "编号", "編號"}},
    {"issuer", {"Issuer", "发证机构", "發證機構"}},
    {"valid", {"Valid", "有效期", "有效期"}},
    {"custody", {"Custody timeline", "流转记录", "流轉記錄"}},
    {"time", {"Time", "时间", "時間"}},
    {"event", {"Event", "事件", "事件"}},
    {"location", {"Location", "地点", "地點"}},
    {"from", {"From", "发货方", "發貨方"}},
    {"to", {"To", "收货方", "收貨方"}},
    {"vehicle", {"Vehicle", "车辆", "車輛"}},
    {"documents", {"Documents", "单据", "單據"}},
    {"inputs", {"Made from", "原料批次", "原料批號"}},
    {"leg", {"Leg", "运输段", "運輸段"}},
    {"route", {"Route", "路线", "路線"}},
    {"departure", {"Departure", "出发", "出發"}},
    {"arrival", {"Arrival", "到达", "到達"}},
    {"temperature", {"Temperature", "温度", "溫度"}},
    {"chart.title", {"Temperature by probe", "各探头温度", "各探頭溫度"}},
    {"chart.axis",
     {"°C, local time (Asia/Shanghai, UTC+08:00)", "°C，当地时间（北京时间 UTC+08:00）",
      "°C，當地時間（北京時間 UTC+08:00）"}},
    {"chart.band", {"recommended range", "推荐范围", "建議範圍"}},
    {"chart.excursion", {"excursion", "温度偏离", "溫度偏離"}},
    {"chart.gap", {"no data", "数据缺失", "資料缺失"}},
    {"map.title", {"Route", "运输路线", "運輸路線"}},
    {"map.note",
     {"GPS track, equirectangular projection", "GPS 轨迹（等距圆柱投影）",
      "GPS 軌跡（等距圓柱投影）"}},
    {"probe.product", {"product", "产品", "產品"}},
    {"probe.supply", {"supply air", "送风", "送風"}},
    {"probe.return", {"return air", "回风", "回風"}},
    {"probe.ambient", {"ambient", "环境", "環境"}},
    {"probe.p", {"probe", "探头", "探頭"}},
    {"figures", {"Cold-chain figures", "冷链指标", "冷鏈指標"}},
    {"samples", {"Readings", "读数", "讀數"}},
    {"min", {"Minimum", "最低", "最低"}},
    {"max", {"Maximum", "最高", "最高"}},
    {"mean", {"Mean", "平均", "平均"}},
    {"mkt", {"Mean kinetic temperature (MKT)", "平均动力学温度 (MKT)", "平均動力學溫度 (MKT)"}},
    {"coverage", {"Coverage", "数据覆盖率", "資料覆蓋率"}},
    {"time_above", {"Time above range", "高于范围时长", "高於範圍時長"}},
    {"time_below", {"Time below range", "低于范围时长", "低於範圍時長"}},
    {"remaining_life", {"Predicted remaining shelf life", "预计剩余货架期", "預計剩餘貨架期"}},
    {"gaps", {"Data gaps", "数据缺口", "資料缺口"}},
    {"none", {"none", "无", "無"}},
    {"excursions", {"Excursions and QA decisions", "温度偏离与质检决定", "溫度偏離與品檢決定"}},
    {"excursion", {"Excursion", "偏离", "偏離"}},
    {"start", {"Start", "开始", "開始"}},
    {"end", {"End", "结束", "結束"}},
    {"duration", {"Duration", "持续时间", "持續時間"}},
    {"peak", {"Peak", "峰值", "峰值"}},
    {"threshold", {"Limit", "限值", "限值"}},
    {"severity", {"Severity", "严重程度", "嚴重程度"}},
    {"qa", {"QA decisions", "质检决定", "品檢決定"}},
    {"qa.by", {"by", "处理人", "處理人"}},
    {"qa.none", {"No QA action recorded", "暂无质检记录", "暫無品檢記錄"}},
    {"reason", {"Reason", "原因", "原因"}},
    {"no_excursions", {"No excursion", "无温度偏离", "無溫度偏離"}},
    {"ongoing", {"ongoing", "持续中", "持續中"}},
    {"note.times",
     {"Times are local time in Asia/Shanghai (UTC+08:00).", "时间均为北京时间（UTC+08:00）。",
      "時間均為北京時間（UTC+08:00）。"}},
    {"note.privacy",
     {"People and vehicles appear by pseudonymous identifiers only.",
      "人员和车辆仅以化名标识显示。", "人員和車輛僅以化名標識顯示。"}},
    {"note.mkt",
     {"MKT per USP <1079> (ΔH/R = 10 000 K); shelf life by time–temperature integration.",
      "MKT 按 USP <1079> 计算（ΔH/R = 10 000 K）；货架期按时间-温度积分预测。",
      "MKT 按 USP <1079> 計算（ΔH/R = 10 000 K）；貨架期按時間-溫度積分預測。"}},
    {"cte.harvesting", {"Harvesting", "采收", "採收"}},
    {"cte.cooling", {"Cooling", "预冷", "預冷"}},
    {"cte.initial_packing", {"Initial packing", "初次包装", "初次包裝"}},
    {"cte.shipping", {"Shipping", "发货", "發貨"}},
    {"cte.receiving", {"Receiving", "收货", "收貨"}},
    {"cte.transformation", {"Transformation", "加工转换", "加工轉換"}},
    {"step.packing", {"Palletised", "组托", "組托"}},
    {"step.unpacking", {"Pallet broken down", "拆托", "拆托"}},
    {"step.storing", {"Stored", "入库", "入庫"}},
    {"step.sensor_reporting", {"Sensor report", "传感器报告", "感測器報告"}},
    {"step.inspecting", {"Inspected", "检验", "檢驗"}},
    {"step.other", {"Event", "事件", "事件"}},
    {"stop.load", {"load", "装货", "裝貨"}},
    {"stop.unload", {"unload", "卸货", "卸貨"}},
    {"stop.handoff", {"handoff", "交接", "交接"}},
    {"severity.warning", {"warning", "警告", "警告"}},
    {"severity.major", {"major", "严重", "嚴重"}},
    {"severity.critical", {"critical", "危急", "危急"}},
    {"direction.above", {"above range", "高于范围", "高於範圍"}},
    {"direction.below", {"below range", "低于范围", "低於範圍"}},
    {"phase.origin", {"at origin", "起运地", "起運地"}},
    {"phase.transit", {"in transit", "运输途中", "運輸途中"}},
    {"phase.destination", {"at destination", "目的地", "目的地"}},
    {"action.acknowledge", {"acknowledged", "已确认", "已確認"}},
    {"action.comment", {"comment", "备注", "備註"}},
    {"action.disposition", {"disposition", "处置", "處置"}},
    {"action.flag", {"flagged", "已标记", "已標記"}},
    {"action.unflag", {"flag removed", "取消标记", "取消標記"}},
    {"disposition.release", {"release", "放行", "放行"}},
    {"disposition.partial_release", {"partial release", "部分放行", "部分放行"}},
    {"disposition.hold", {"hold", "暂扣", "暫扣"}},
    {"disposition.reject", {"reject", "拒收", "拒收"}},
    {"status.planned", {"planned", "计划中", "計劃中"}},
    {"status.in_transit", {"in transit", "运输中", "運輸中"}},
    {"status.delivered", {"delivered", "已送达", "已送達"}},
    {"status.cancelled", {"cancelled", "已取消", "已取消"}},
    {"unit.h", {"h", "小时", "小時"}},
    {"unit.min", {"min", "分钟", "分鐘"}},
    {"unit.days", {"days", "天", "天"}},
    {"legs", {"Transport legs", "运输段", "運輸段"}},
    {"vehicles", {"Vehicles", "车辆", "車輛"}},
    {"lots", {"Lots in this report", "本报告涉及批次", "本報告涉及批號"}},
    {"depth.0", {"this lot", "本批次", "本批號"}},
    {"depth.n", {"made from", "原料", "原料"}},
    {"readings_none",
     {"No readings recorded for this leg.", "本运输段无温度读数。", "本運輸段無溫度讀數。"}},
    {"scheme.gba_supply_base",
     {"GBA vegetable supply base", "粤港澳大湾区“菜篮子”生产基地",
      "粵港澳大灣區「菜籃子」生產基地"}},
    {"scheme.ffrn", {"FDA food facility registration", "FDA 食品设施注册号", "FDA 食品設施註冊號"}},
    {"status", {"Status", "状态", "狀態"}},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static const char *const tags[REPORT_LANG_N] = {"en", "zh-Hans", "zh-Hant"};

int report_i18n_lang(const char *tag, enum report_lang *out)
{
	if (!out)
		return -1;
	if (!tag) {
		*out = REPORT_LANG_EN;
		return 0;
	}
	for (int i = 0; i < REPORT_LANG_N; i++)
		if (strcmp(tag, tags[i]) == 0) {
			*out = (enum report_lang)i;
			return 0;
		}
	return -1;
}

const char *report_i18n_tag(enum report_lang lang)
{
	return (unsigned)lang < REPORT_LANG_N ? tags[lang] : tags[0];
}

const char *report_i18n_get(enum report_lang lang, const char *key)
{
	if ((unsigned)lang >= REPORT_LANG_N)
		lang = REPORT_LANG_EN;
	for (size_t i = 0; i < N_ROWS; i++)
		if (strcmp(rows[i].key, key) == 0)
			return rows[i].text[lang] ? rows[i].text[lang] : rows[i].text[0];
	return key;
}

const char *report_i18n_code(enum report_lang lang, const char *prefix, const char *code)
{
	char key[96];
	const char *s;

	if (!code)
		return "";
	if (snprintf(key, sizeof(key), "%s.%s", prefix, code) >= (int)sizeof(key))
		return code;
	s = report_i18n_get(lang, key);
	return s == key ? code : s;
}

size_t report_i18n_count(void)
{
	return N_ROWS;
}

const char *report_i18n_key(size_t i)
{
	return i < N_ROWS ? rows[i].key : NULL;
}
